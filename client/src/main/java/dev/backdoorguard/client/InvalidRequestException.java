package dev.backdoorguard.client;

import io.grpc.Status;

/** The server rejected the input (INVALID_ARGUMENT); the message names the offending field. */
public final class InvalidRequestException extends GuardClientException {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message, Throwable cause) {
        super(Status.Code.INVALID_ARGUMENT, message, cause);
    }
}
