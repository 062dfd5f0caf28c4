package dev.backdoorguard.core.guard;

/** The caller's input is malformed (shape, size, values); the message names what is wrong. */
public final class InvalidInputException extends GuardException {
    public InvalidInputException(String message) {
        super(message);
    }
}
