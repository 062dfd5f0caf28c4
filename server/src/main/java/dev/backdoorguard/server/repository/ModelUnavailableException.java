package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.GuardException;

/** The model exists but cannot answer now: not loaded yet, failed to load, unloaded, or shutting down. */
public final class ModelUnavailableException extends GuardException {
    public ModelUnavailableException(String message) {
        super(message);
    }
}
