package dev.backdoorguard.client;

import io.grpc.Status;

/**
 * The server or the model could not be reached or was not ready (UNAVAILABLE), after the configured retries.
 */
public final class ServerUnavailableException extends GuardClientException {
    private static final long serialVersionUID = 1L;

    public ServerUnavailableException(String message, Throwable cause) {
        super(Status.Code.UNAVAILABLE, message, cause);
    }
}
