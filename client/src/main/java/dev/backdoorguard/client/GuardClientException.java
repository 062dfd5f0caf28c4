package dev.backdoorguard.client;

import io.grpc.Status;

/**
 * A call failed: carries the gRPC status code and the server's description. Subclasses name the outcomes callers
 * usually branch on; every other code arrives as this type.
 */
public class GuardClientException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;

    public GuardClientException(Status.Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The gRPC status code of the failed call. */
    public Status.Code code() {
        return code;
    }
}
