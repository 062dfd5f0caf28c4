package dev.backdoorguard.core.guard;

/** The root of the guard's unchecked failures; the server maps each subtype to one gRPC status. */
public class GuardException extends RuntimeException {
    public GuardException(String message) {
        super(message);
    }

    public GuardException(String message, Throwable cause) {
        super(message, cause);
    }
}
