package dev.backdoorguard.client;

import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ManagedChannelRegistry;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Builds the channel a {@link GuardClient} owns, from a {@link ClientConfig}. */
final class Channels {
    /** Responses carry [N,K] floats twice plus scores; 64 MiB leaves room for large batches of large models. */
    private static final int MAX_INBOUND_BYTES = 64 * 1024 * 1024;

    private Channels() {}

    static ManagedChannel open(ClientConfig config) {
        ChannelCredentials credentials = transport(config);
        if (config.bearerToken() != null) {
            credentials = CompositeChannelCredentials.create(credentials, new BearerToken(config.bearerToken()));
        }
        ManagedChannelBuilder<?> builder;
        try {
            builder = Grpc.newChannelBuilder(config.target(), credentials);
        } catch (ManagedChannelRegistry.ProviderNotFoundException | IllegalArgumentException e) {
            if (!config.tls()) {
                throw e;
            }
            // The TLS stack parses the PEM files only here, and says neither which file it was nor that it is input.
            throw new IllegalArgumentException("cannot set up TLS with " + tlsFiles(config) + ": " + reason(e), e);
        }
        builder.maxInboundMessageSize(MAX_INBOUND_BYTES);
        if (config.maxAttempts() > 1) {
            builder.defaultServiceConfig(retryServiceConfig(config.maxAttempts())).enableRetry();
        } else {
            builder.disableRetry();
        }
        return builder.build();
    }

    /**
     * gRPC's own retry policy rather than a loop around each call: it applies to blocking and asynchronous calls
     * alike, retries only attempts the server never processed a response for, keeps the call's one deadline across
     * attempts, and backs off exponentially with jitter. Only UNAVAILABLE (server restarting, model loading, connection
     * refused) is retried; everything else is an answer the caller must see.
     */
    static Map<String, ?> retryServiceConfig(int maxAttempts) {
        Map<String, Object> retryPolicy = Map.of(
                "maxAttempts", (double) maxAttempts,
                "initialBackoff", "0.2s",
                "maxBackoff", "2s",
                "backoffMultiplier", 2.0,
                "retryableStatusCodes", List.of("UNAVAILABLE"));
        Map<String, Object> methodConfig = Map.of(
                "name", List.of(
                        Map.of("service", "inference.GRPCInferenceService"),
                        Map.of("service", "guard.v1.Guard"),
                        Map.of("service", "grpc.health.v1.Health")),
                "retryPolicy", retryPolicy);
        return Map.of("methodConfig", List.of(methodConfig));
    }

    private static String tlsFiles(ClientConfig config) {
        List<String> files = new ArrayList<>();
        if (config.caCertificate() != null) {
            files.add("CA certificate " + config.caCertificate());
        }
        if (config.clientCertificate() != null) {
            files.add("client certificate " + config.clientCertificate() + ", key " + config.clientKey());
        }
        return files.isEmpty() ? "the system trust store" : String.join(", ", files);
    }

    /** The registry joins every provider's refusal; the first is Netty's, the others say they do not apply. */
    private static String reason(RuntimeException e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        return message.split("; ")[0].replaceFirst("^[\\w.$]+Provider: ", "");
    }

    private static ChannelCredentials transport(ClientConfig config) {
        if (!config.tls()) {
            return InsecureChannelCredentials.create();
        }
        try {
            TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
            if (config.caCertificate() != null) {
                tls.trustManager(config.caCertificate().toFile());
            }
            if (config.clientCertificate() != null) {
                tls.keyManager(config.clientCertificate().toFile(), config.clientKey().toFile());
            }
            return tls.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new UncheckedIOException("cannot load TLS certificates: " + e.getMessage(),
                    e instanceof IOException io ? io : new IOException(e));
        }
    }
}
