package dev.backdoorguard.core.detect;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How the cosines of the candidate layers are weighted in the score (spec §3.6): {@code
 * unweighted} (the default: cannot invert the test), {@code per-class} (the class's own increase
 * Δ_{c,l}) or {@code code-faithful} (the released code: class K−1's Δ for every class).
 */
public enum WeightMode {
    UNWEIGHTED("unweighted"),
    PER_CLASS("per-class"),
    CODE_FAITHFUL("code-faithful");

    private final String id;

    WeightMode(String id) {
        this.id = id;
    }

    /** The name used on the command line and in {@code detector.json}. */
    public String id() {
        return id;
    }

    /** Parses a mode name, naming the accepted ones when it is unknown. */
    public static WeightMode parse(String id) {
        for (WeightMode m : values()) {
            if (m.id.equals(id)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown weight mode '" + id + "' (expected one of "
                + Arrays.stream(values()).map(WeightMode::id).collect(Collectors.joining(", ")) + ")");
    }

    @Override
    public String toString() {
        return id;
    }
}
