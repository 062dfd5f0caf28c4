package dev.backdoorguard.core.detect;

/**
 * One class's calibration: its critical layer l*, candidate set S = {l*−2, l*−1, l*} with their
 * weights and reference centroids μ_{c,l} ({@code centroids[j]} belongs to {@code candidates[j]}),
 * the benign score mean m, population std σ and threshold t, the sample counts and the
 * localisation diagnostics a (length L) and Δ (length L−1).
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
        double[] delta) {

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
