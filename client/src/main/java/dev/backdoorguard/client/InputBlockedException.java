package dev.backdoorguard.client;

import io.grpc.Status;

/**
 * The guard refused the request ({@code guard.mode=block} and at least one item was flagged; FAILED_PRECONDITION).
 * A policy outcome, not a server fault: the message is the server's, naming the flagged items.
 */
public final class InputBlockedException extends GuardClientException {
    private static final long serialVersionUID = 1L;

    public InputBlockedException(String message, Throwable cause) {
        super(Status.Code.FAILED_PRECONDITION, message, cause);
    }
}
