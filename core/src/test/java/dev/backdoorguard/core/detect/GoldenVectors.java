package dev.backdoorguard.core.detect;

import java.util.List;

/** The synthetic §12 example of critical-layer.md: C = 2, L = 5, d = 3, 4 samples per class. */
final class GoldenVectors {
    static final List<String> TAPS = List.of("t0", "t1", "t2", "t3", "logits");
    static final int[] BUMPS = {0, 1, 2, 12, 4};
    static final int[] CRASH_BUMPS = {0, 1, 2, 3, 4};

    private GoldenVectors() {}

    /** F[c][i][l][k] per the spec's formula. */
    static float[] feature(int[] bumps, int c, int i, int l) {
        float[] f = new float[3];
        for (int k = 0; k < 3; k++) {
            int base = ((i + 1) * (k + 2) + (l + 1) * (c + 1) * (k + 1)) % 5 + 1;
            f[k] = base + (k == c ? bumps[l] : 0);
        }
        return f;
    }

    /** All tap features of sample i of class c, indexed by tap. */
    static float[][] sample(int[] bumps, int c, int i) {
        float[][] out = new float[5][];
        for (int l = 0; l < 5; l++) {
            out[l] = feature(bumps, c, i, l);
        }
        return out;
    }

    /** The 8 samples in one batch, localisation set = reference set, predictions = labels. */
    static FeatureSource source(int[] bumps) {
        int n = 8;
        int[] labels = new int[n];
        float[][] features = new float[5][n * 3];
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 4; i++) {
                int row = c * 4 + i;
                labels[row] = c;
                for (int l = 0; l < 5; l++) {
                    System.arraycopy(feature(bumps, c, i, l), 0, features[l], row * 3, 3);
                }
            }
        }
        FeatureBatch batch = new FeatureBatch(n, labels, labels.clone(), features);
        return consumer -> consumer.accept(batch);
    }
}
