package dev.backdoorguard.client;

import io.grpc.Status;

/** The one place where a failed call becomes a client exception. */
final class Errors {
    private Errors() {}

    /**
     * Maps {@code failure} (usually a {@link io.grpc.StatusRuntimeException}) of the call {@code what} to the server
     * at {@code target}.
     */
    static GuardClientException map(String what, String target, Throwable failure) {
        if (failure instanceof GuardClientException known) {
            return known;
        }
        Status status = Status.fromThrowable(failure);
        String description = status.getDescription() == null ? "" : ": " + status.getDescription();
        if (status.getCode() == Status.Code.UNAVAILABLE && answeredInPlaintext(status.getCause())) {
            // Netty's own words: "io exception Channel Pipeline: [SslHandler#0, ...] (not an SSL/TLS record: 0000...)"
            description = ": the server at " + target + " does not speak TLS (a plaintext server? then connect"
                    + " without --tls/--ca-cert)";
        } else if (status.getCause() != null && status.getCause().getMessage() != null) {
            // Transport failures (refused, TLS handshake) carry the useful part in the local cause only.
            description += " (" + status.getCause().getMessage() + ")";
        }
        String message = what + " failed with " + status.getCode() + description;
        switch (status.getCode()) {
            case FAILED_PRECONDITION:
                return new InputBlockedException(message, failure);
            case UNAVAILABLE:
                return new ServerUnavailableException(message, failure);
            case INVALID_ARGUMENT:
                return new InvalidRequestException(message, failure);
            default:
                return new GuardClientException(status.getCode(), message, failure);
        }
    }

    /**
     * Whether TLS failed because the peer answered with something that is not a TLS record (a plaintext HTTP/2
     * server). Matched by simple name: grpc-netty-shaded relocates Netty's {@code NotSslRecordException}, and the
     * client must not depend on either package.
     */
    private static boolean answeredInPlaintext(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getClass().getSimpleName().equals("NotSslRecordException")) {
                return true;
            }
        }
        return false;
    }
}
