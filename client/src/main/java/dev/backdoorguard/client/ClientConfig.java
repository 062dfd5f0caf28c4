package dev.backdoorguard.client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link GuardClient} connects: the server address, transport security, credentials, the default deadline of
 * every call and how many attempts a call gets when the server answers UNAVAILABLE.
 *
 * <p>{@code caCertificate}, {@code clientCertificate}, {@code clientKey} and {@code bearerToken} may be null. A CA
 * certificate or client certificate implies TLS; mutual TLS needs both the client certificate and its key.
 *
 * @param target the server as {@code host:port}
 * @param tls whether to use TLS (with the system trust store unless {@code caCertificate} is given)
 * @param caCertificate PEM file of the CA that signed the server certificate, or null
 * @param clientCertificate PEM client certificate chain for mutual TLS, or null
 * @param clientKey PEM (PKCS#8) private key of the client certificate, or null
 * @param bearerToken sent as {@code authorization: Bearer <token>} on every call, or null
 * @param deadline the deadline of each call (each attempt of a retried call shares it)
 * @param maxAttempts attempts per call, 1 (no retry) to 5 (gRPC's cap); only UNAVAILABLE is retried
 */
public record ClientConfig(
        String target,
        boolean tls,
        Path caCertificate,
        Path clientCertificate,
        Path clientKey,
        String bearerToken,
        Duration deadline,
        int maxAttempts) {

    /** Default deadline: long enough for a batch on a busy CPU server, short enough to notice a hung server. */
    public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

    /** Default attempts: one try plus two retries while a server restarts or a model finishes loading. */
    public static final int DEFAULT_MAX_ATTEMPTS = 3;

    public ClientConfig {
        Objects.requireNonNull(target, "target");
        HostPort.parse(target); // throws with a message naming the target
        if (caCertificate != null || clientCertificate != null) {
            tls = true;
        }
        if ((clientCertificate == null) != (clientKey == null)) {
            throw new IllegalArgumentException(
                    "mutual TLS needs both a client certificate and its key, got "
                            + (clientCertificate == null ? "only a key" : "only a certificate"));
        }
        requireReadable(caCertificate, "CA certificate");
        requireReadable(clientCertificate, "client certificate");
        requireReadable(clientKey, "client key");
        if (bearerToken != null && (bearerToken.isBlank() || bearerToken.chars().anyMatch(Character::isWhitespace))) {
            throw new IllegalArgumentException("bearer token must be non-empty and contain no whitespace");
        }
        Objects.requireNonNull(deadline, "deadline");
        if (deadline.isNegative() || deadline.isZero()) {
            // In milliseconds, as the CLI's durations are written; Duration's own text (PT0S) is Java's, not the user's.
            throw new IllegalArgumentException("deadline must be positive, got " + deadline.toMillis() + "ms");
        }
        if (maxAttempts < 1 || maxAttempts > 5) {
            throw new IllegalArgumentException("maxAttempts must be in 1..5 (gRPC's cap), got " + maxAttempts);
        }
    }

    /** A plaintext connection with the default deadline and retries. */
    public static ClientConfig plaintext(String target) {
        return new ClientConfig(target, false, null, null, null, null, DEFAULT_DEADLINE, DEFAULT_MAX_ATTEMPTS);
    }

    /** This configuration with TLS, trusting {@code caCertificate} (null: the system trust store). */
    public ClientConfig withTls(Path caCertificate) {
        return new ClientConfig(target, true, caCertificate, clientCertificate, clientKey, bearerToken, deadline,
                maxAttempts);
    }

    /** This configuration with a client certificate and key (mutual TLS). */
    public ClientConfig withClientCertificate(Path certificate, Path key) {
        return new ClientConfig(target, true, caCertificate, certificate, key, bearerToken, deadline, maxAttempts);
    }

    /** This configuration sending {@code token} as a bearer token. */
    public ClientConfig withBearerToken(String token) {
        return new ClientConfig(target, tls, caCertificate, clientCertificate, clientKey, token, deadline,
                maxAttempts);
    }

    /** This configuration with another per-call deadline. */
    public ClientConfig withDeadline(Duration newDeadline) {
        return new ClientConfig(target, tls, caCertificate, clientCertificate, clientKey, bearerToken, newDeadline,
                maxAttempts);
    }

    /** This configuration with another attempt budget (1 disables retries). */
    public ClientConfig withMaxAttempts(int attempts) {
        return new ClientConfig(target, tls, caCertificate, clientCertificate, clientKey, bearerToken, deadline,
                attempts);
    }

    private static void requireReadable(Path file, String what) {
        if (file != null && !Files.isReadable(file)) {
            throw new IllegalArgumentException(what + " is not a readable file: " + file);
        }
    }
}
