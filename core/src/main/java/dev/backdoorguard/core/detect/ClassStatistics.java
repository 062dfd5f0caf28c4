package dev.backdoorguard.core.detect;

/**
 * One class's calibration: its critical layer l*, candidate set S (under {@link ScoreRule#COSINE_SUM}
 * {l*−2, l*−1, l*}, under {@link ScoreRule#MAHALANOBIS} the rule's fixed taps) with their weights and
 * reference centroids μ_{c,l} ({@code centroids[j]} belongs to {@code candidates[j]}), the benign
 * score mean m, population std σ and threshold t, the sample counts, the localisation diagnostics a
 * (length L) and Δ (length L−1), and the Mahalanobis terms (null under the cosine sum).
 */
public record ClassStatistics(
        int classIndex,
        int criticalLayer,
        int[] candidates,
        double[] weights,
        float[][] centroids,
        double mean,
        double std,
        double threshold,
        int localisationSamples,
        int referenceSamples,
        double[] similarity,
        double[] delta,
        Mahalanobis mahalanobis) {

    public ClassStatistics {
        if (candidates.length != weights.length || candidates.length != centroids.length) {
            throw new IllegalArgumentException("class " + classIndex + ": " + candidates.length + " candidate layers, "
                    + weights.length + " weights and " + centroids.length + " centroids");
        }
        if (!(std > 0) || !Double.isFinite(mean) || Double.isNaN(threshold)) {
            throw new IllegalArgumentException("class " + classIndex + ": benign score statistics must be finite with"
                    + " std > 0, got mean " + mean + ", std " + std + ", threshold " + threshold);
        }
        if (delta.length != similarity.length - 1) {
            throw new IllegalArgumentException("class " + classIndex + ": delta must have one entry less than a");
        }
        if (mahalanobis != null && mahalanobis.size() != candidates.length) {
            throw new IllegalArgumentException("class " + classIndex + ": Mahalanobis terms for " + mahalanobis.size()
                    + " taps, but " + candidates.length + " candidate layers");
        }
    }

    /**
     * The score s from the cosines to this class's centroids at its candidate layers ({@code
     * cosines[j]} at {@code candidates[j]}): Σ w_j·cos_j, or −(v − m)ᵀ P (v − m) under the
     * Mahalanobis rule. The one place the score is computed, for calibration and serving alike.
     * Only the first |S| entries of {@code cosines} are read, so a longer scratch array may be passed.
     */
    public double score(double[] cosines) {
        return score(weights, mahalanobis, cosines);
    }

    /** {@link #score(double[])} before the statistics exist: for the calibration's benign scores. */
    static double score(double[] weights, Mahalanobis mahalanobis, double[] cosines) {
        if (mahalanobis != null) {
            return mahalanobis.score(cosines);
        }
        double s = 0;
        for (int j = 0; j < weights.length; j++) {
            s += weights[j] * cosines[j];
        }
        return s;
    }

    /** The normalised margin z = (m − s)/σ: larger is more suspicious. */
    public double margin(double score) {
        return (mean - score) / std;
    }

    /** The verdict: strictly below the threshold. */
    public boolean isFlagged(double score) {
        return score < threshold;
    }
}
