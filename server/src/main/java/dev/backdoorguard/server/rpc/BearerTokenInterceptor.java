package dev.backdoorguard.server.rpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Set;

/**
 * Requires {@code authorization: Bearer <token>} on the model-repository RPCs (index, load, unload);
 * other RPCs pass untouched. The comparison takes constant time.
 */
public final class BearerTokenInterceptor implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Set<String> PROTECTED = Set.of(
            "inference.GRPCInferenceService/RepositoryIndex",
            "inference.GRPCInferenceService/RepositoryModelLoad",
            "inference.GRPCInferenceService/RepositoryModelUnload");

    private final byte[] expected;

    public BearerTokenInterceptor(String token) {
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("the repository token must not be empty");
        }
        this.expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        if (PROTECTED.contains(call.getMethodDescriptor().getFullMethodName())) {
            String given = headers.get(AUTHORIZATION);
            if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
                call.close(Status.UNAUTHENTICATED.withDescription(given == null
                        ? "repository RPCs need 'authorization: Bearer <token>'" : "invalid bearer token"),
                        new Metadata());
                return new ServerCall.Listener<>() {};
            }
        }
        return next.startCall(call, headers);
    }
}
