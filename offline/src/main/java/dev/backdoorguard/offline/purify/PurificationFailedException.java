package dev.backdoorguard.offline.purify;

/**
 * A purification that ran but did not reach its goal (SEAM's forget phase never fell below 2/K):
 * the command reports it in one line and writes no bundle. Not a bug, so no stack trace.
 */
public final class PurificationFailedException extends RuntimeException {
    public PurificationFailedException(String message) {
        super(message);
    }
}
