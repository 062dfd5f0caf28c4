package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.GuardException;

/** Loading or warming up a new version failed; the version served before (if any) keeps serving. */
public final class ModelLoadException extends GuardException {
    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
