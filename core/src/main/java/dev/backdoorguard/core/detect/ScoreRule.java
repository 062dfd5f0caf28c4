package dev.backdoorguard.core.detect;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What the per-class score is computed from (a named deviation option; docs/BENCHMARKS.md §4):
 *
 * <ul>
 *   <li>{@code cosine-sum} (the default, the specified detector): s_c = Σ_{l∈S_c} w_{c,l}·cos(f_l,
 *       μ_{c,l}) over the critical layer and the two taps before it.
 *   <li>{@code mahalanobis}: every class scores the taps h−1 … L−2 (h = ⌊L/2⌋), i.e. every tap a
 *       candidate set S_c can contain except the logits, and s_c = −(v − m_c)ᵀ P_c (v − m_c), minus
 *       the squared Mahalanobis distance of the vector v of those cosines from its benign mean
 *       ({@link Mahalanobis}). It needs no choice of layer, so it still sees a backdoor that
 *       separates at middle taps when the localisation picks late ones that do not; the logits are left
 *       out because a successful trigger produces the target class's logits by construction.
 * </ul>
 */
public enum ScoreRule {
    COSINE_SUM("cosine-sum"),
    MAHALANOBIS("mahalanobis");

    private final String id;

    ScoreRule(String id) {
        this.id = id;
    }

    /** The name used on the command line and in {@code detector.json}. */
    public String id() {
        return id;
    }

    /** Parses a rule name, naming the accepted ones when it is unknown. */
    public static ScoreRule parse(String id) {
        for (ScoreRule r : values()) {
            if (r.id.equals(id)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown score rule '" + id + "' (expected one of "
                + Arrays.stream(values()).map(ScoreRule::id).collect(Collectors.joining(", ")) + ")");
    }

    /** The taps the mahalanobis rule scores for an architecture with {@code layers} taps: h−1 … L−2. */
    static int[] mahalanobisTaps(int layers) {
        int first = layers / 2 - 1;
        int[] taps = new int[layers - 1 - first];
        for (int i = 0; i < taps.length; i++) {
            taps[i] = first + i;
        }
        return taps;
    }

    @Override
    public String toString() {
        return id;
    }
}
