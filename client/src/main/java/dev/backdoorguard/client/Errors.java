package dev.backdoorguard.client;

import io.grpc.Status;

/** The one place where a failed call becomes a client exception. */
final class Errors {
    private Errors() {}

    /** Maps {@code failure} (usually a {@link io.grpc.StatusRuntimeException}) of the call {@code what}. */
    static GuardClientException map(String what, Throwable failure) {
        if (failure instanceof GuardClientException known) {
            return known;
        }
        Status status = Status.fromThrowable(failure);
        String description = status.getDescription() == null ? "" : ": " + status.getDescription();
        if (status.getCause() != null && status.getCause().getMessage() != null) {
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
}
