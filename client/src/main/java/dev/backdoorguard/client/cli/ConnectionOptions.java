package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Where the server is and how to talk to it: shared by predict and bench. */
final class ConnectionOptions {
    @Option(names = "--target", defaultValue = "127.0.0.1:8500", description = "Server host:port (default: ${DEFAULT-VALUE}).")
    String target;

    @Option(names = "--tls", description = "Use TLS (system trust store unless --ca-cert).")
    boolean tls;

    @Option(names = "--ca-cert", paramLabel = "PEM", description = "CA certificate that signed the server's (implies --tls).")
    Path caCert;

    @Option(names = "--client-cert", paramLabel = "PEM", description = "Client certificate for mutual TLS (with --client-key).")
    Path clientCert;

    @Option(names = "--client-key", paramLabel = "PEM", description = "PKCS#8 private key of --client-cert.")
    Path clientKey;

    @Option(names = "--token", defaultValue = "${env:GUARD_TOKEN}",
            description = "Bearer token sent with every call (default: env GUARD_TOKEN).")
    String token;

    @Option(names = "--deadline", defaultValue = "30s", paramLabel = "DURATION",
            description = "Deadline of each call, e.g. 500ms, 30s (default: ${DEFAULT-VALUE}).")
    Duration deadline;

    ClientConfig config(int maxAttempts) {
        return new ClientConfig(target, tls, caCert, clientCert, clientKey, token, deadline, maxAttempts);
    }
}
