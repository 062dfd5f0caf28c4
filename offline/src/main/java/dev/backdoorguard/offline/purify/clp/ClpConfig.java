package dev.backdoorguard.offline.purify.clp;

/** CLP's one setting: prune channels whose UCLC exceeds mean + u·std within their layer. */
public record ClpConfig(double u) {
    public static final double DEFAULT_U = 3.0;

    public ClpConfig {
        if (!(u >= 0) || Double.isInfinite(u)) {
            throw new IllegalArgumentException("--u must be finite and >= 0, got " + u);
        }
    }
}
