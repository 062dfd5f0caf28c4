package dev.backdoorguard.core.guard;

import java.util.List;

/**
 * The detector's view of one input: the predicted class, its critical layer, the per-layer cosines
 * and weights of the candidate set, the score s, the class threshold t, the normalised margin
 * z = (m − s)/σ (the served {@code guard_score}) and the verdict s &lt; t.
 */
public record Inspection(
        int label,
        String criticalTap,
        List<LayerScore> layers,
        double score,
        double threshold,
        double margin,
        boolean flagged) {

    public Inspection {
        layers = List.copyOf(layers);
    }

    /** One candidate layer's cosine to the class centroid and its weight in the score. */
    public record LayerScore(String tap, double cosine, double weight) {}
}
