package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** Where the server is and how to talk to it: shared by predict and bench. */
final class ConnectionOptions {
    private static final Pattern CERTIFICATE = Pattern.compile("-+BEGIN\\s[^-\\r\\n]*CERTIFICATE[^-\\r\\n]*-+");
    private static final Pattern PRIVATE_KEY =
            Pattern.compile("-+BEGIN\\s[^-\\r\\n]*PRIVATE\\s+KEY[^-\\r\\n]*-+");

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
        requirePem("--ca-cert", caCert, CERTIFICATE, "a PEM certificate");
        requirePem("--client-cert", clientCert, CERTIFICATE, "a PEM certificate");
        requirePem("--client-key", clientKey, PRIVATE_KEY, "a PEM private key");
        return new ClientConfig(target, tls, caCert, clientCert, clientKey, token, deadline, maxAttempts);
    }

    /**
     * Checked here because the TLS stack finds a wrong file only when the channel is built, and then names neither
     * the option nor the file ("No certificate data found"). The patterns are the PEM headers Netty's reader looks
     * for, so a file it would take is never refused here.
     */
    private static void requirePem(String option, Path file, Pattern header, String what) {
        if (file == null) {
            return;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.ISO_8859_1); // any bytes decode; PEM is ASCII
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + file + ": cannot read it (" + e.getMessage() + ")");
        }
        if (!header.matcher(text).find()) {
            throw new IllegalArgumentException(option + " " + file + ": not " + what);
        }
    }
}
