package dev.backdoorguard.server.batch;

import dev.backdoorguard.core.guard.GuardException;

/** The request's deadline passed while it waited in the queue; it was dropped before compute. */
public final class DeadlineExpiredException extends GuardException {
    public DeadlineExpiredException(String message) {
        super(message);
    }
}
