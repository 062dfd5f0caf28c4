package dev.backdoorguard.client;

import java.util.List;

/**
 * ServerMetadata: the server's name, version and protocol extensions (e.g. {@code guard}, {@code statistics}).
 *
 * @param name server name
 * @param version server version
 * @param extensions supported protocol extensions
 */
public record ServerInfo(String name, String version, List<String> extensions) {
    public ServerInfo {
        extensions = List.copyOf(extensions);
    }
}
