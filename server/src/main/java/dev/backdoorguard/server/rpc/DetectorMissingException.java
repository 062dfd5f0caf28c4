package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.guard.GuardException;

/** Inspect was asked of a model whose bundle carries no calibrated detector. */
final class DetectorMissingException extends GuardException {
    DetectorMissingException(String message) {
        super(message);
    }
}
