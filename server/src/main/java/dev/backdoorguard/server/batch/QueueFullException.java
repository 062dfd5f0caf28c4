package dev.backdoorguard.server.batch;

import dev.backdoorguard.core.guard.GuardException;

/** The bounded request queue is full: the client should back off and retry. */
public final class QueueFullException extends GuardException {
    public QueueFullException(String message) {
        super(message);
    }
}
