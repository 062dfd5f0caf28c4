package dev.backdoorguard.client.load;

/**
 * A snapshot of a running phase, for the progress line.
 *
 * @param phase {@code warm-up} or {@code measure}
 * @param elapsedSeconds seconds since the phase started
 * @param plannedSeconds the phase's duration bound, or 0 if bounded by requests only
 * @param sent requests sent so far
 * @param ok successful answers so far
 * @param errors failed requests so far
 * @param dropped open-loop requests not sent on time so far
 * @param finished whether this is the phase's final snapshot
 */
public record LoadProgress(
        String phase, double elapsedSeconds, double plannedSeconds, long sent, long ok, long errors, long dropped,
        boolean finished) {}
