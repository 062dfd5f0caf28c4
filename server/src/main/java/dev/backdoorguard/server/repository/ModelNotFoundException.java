package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.GuardException;

/** No model (or no such version) is served under the requested name. */
public final class ModelNotFoundException extends GuardException {
    public ModelNotFoundException(String message) {
        super(message);
    }
}
