package dev.backdoorguard.core.model;

/**
 * Row-wise argmax and softmax of logits already copied to the heap ([n, k] row-major). A batch's
 * logits are a few hundred floats, so finishing them here costs less than the engine calls it
 * replaces (softmax, argmax, a type cast and two more copies per batch). The results follow
 * PyTorch: argmax returns the first maximum and treats NaN as larger than any number, as
 * {@code torch.argmax} does; softmax subtracts the row maximum before exponentiating, and a row with
 * a NaN gives NaN probabilities.
 */
public final class Logits {
    private Logits() {
    }

    /** The index of row {@code row}'s maximum in {@code flat} [n, k]. */
    public static int argmax(float[] flat, int row, int k) {
        int start = row * k;
        int best = 0;
        for (int j = 1; j < k; j++) {
            float v = flat[start + j];
            float b = flat[start + best];
            if (Float.isNaN(b)) {
                break; // the first NaN wins
            }
            if (v > b || Float.isNaN(v)) {
                best = j;
            }
        }
        return best;
    }

    /** argmax of every row of {@code flat} [n, k]. */
    public static int[] argmax(float[] flat, int k) {
        checkRows(flat, k);
        int[] labels = new int[flat.length / k];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = argmax(flat, i, k);
        }
        return labels;
    }

    /** Softmax of every row of {@code flat} [n, k], accumulated in double. */
    public static float[] softmax(float[] flat, int k) {
        checkRows(flat, k);
        float[] out = new float[flat.length];
        double[] e = new double[k];
        for (int start = 0; start < flat.length; start += k) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, flat[start + j]); // Math.max propagates NaN
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                e[j] = Math.exp(flat[start + j] - max);
                sum += e[j];
            }
            for (int j = 0; j < k; j++) {
                out[start + j] = (float) (e[j] / sum);
            }
        }
        return out;
    }

    private static void checkRows(float[] flat, int k) {
        if (k <= 0 || flat.length % k != 0) {
            throw new IllegalArgumentException(flat.length + " logits are not rows of " + k + " classes");
        }
    }
}
