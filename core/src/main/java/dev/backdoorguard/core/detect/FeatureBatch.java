package dev.backdoorguard.core.detect;

/**
 * One batch of tapped features on the heap: per tap l, {@code features[l]} is row-major {@code
 * [size, d_l]} (each activation flattened per sample, no pooling), with the true and the predicted
 * label of each sample.
 */
public record FeatureBatch(int size, int[] labels, int[] predicted, float[][] features) {
    public FeatureBatch {
        if (labels.length != size || predicted.length != size) {
            throw new IllegalArgumentException("a batch of " + size + " needs " + size + " labels and predictions, got "
                    + labels.length + " and " + predicted.length);
        }
        for (float[] f : features) {
            if (size == 0 || f.length % size != 0) {
                throw new IllegalArgumentException("tap features of length " + f.length + " are not [" + size + ", d]");
            }
        }
    }

    /** d_l of tap l. */
    public int dim(int tap) {
        return features[tap].length / size;
    }
}
