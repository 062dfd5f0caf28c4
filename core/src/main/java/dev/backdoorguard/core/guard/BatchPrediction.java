package dev.backdoorguard.core.guard;

/**
 * What a {@link Guard} answers for one batch, as plain Java arrays: logits and softmax
 * probabilities {@code [size, numClasses]} row-major, the predicted label per item, and, when the
 * detector scored the batch, its per-item score (the normalised margin z, larger is more suspicious)
 * and flag. {@code scores} and {@code flags} are {@code null} when the guard did not run.
 */
public record BatchPrediction(
        int size, int numClasses, float[] logits, float[] probabilities, int[] labels, float[] scores, boolean[] flags) {

    public BatchPrediction {
        if (logits.length != size * numClasses || probabilities.length != size * numClasses || labels.length != size) {
            throw new IllegalArgumentException("prediction arrays do not match [" + size + ", " + numClasses + "]");
        }
        if ((scores == null) != (flags == null) || scores != null && (scores.length != size || flags.length != size)) {
            throw new IllegalArgumentException("guard scores and flags must both be absent or both have " + size
                    + " entries");
        }
    }

    /** Whether the detector scored this batch. */
    public boolean isGuarded() {
        return scores != null;
    }

    /** How many items the detector flagged (0 when it did not run). */
    public int flaggedCount() {
        int count = 0;
        if (flags != null) {
            for (boolean flag : flags) {
                count += flag ? 1 : 0;
            }
        }
        return count;
    }
}
