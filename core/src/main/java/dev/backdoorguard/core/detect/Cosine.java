package dev.backdoorguard.core.detect;

import java.util.function.IntToDoubleFunction;

/** Cosine similarity in double precision with sklearn's convention: 0 when either vector is zero. */
final class Cosine {
    private Cosine() {}

    /** cos(f[offset .. offset + centroid.length), centroid). */
    static double of(float[] f, int offset, float[] centroid) {
        return of(f, offset, k -> centroid[k], centroid.length);
    }

    /** As {@link #of(float[], int, float[])} against a double-precision centroid. */
    static double of(float[] f, int offset, double[] centroid) {
        return of(f, offset, k -> centroid[k], centroid.length);
    }

    private static double of(float[] f, int offset, IntToDoubleFunction centroid, int length) {
        double dot = 0;
        double nf = 0;
        double nc = 0;
        for (int k = 0; k < length; k++) {
            double a = f[offset + k];
            double b = centroid.applyAsDouble(k);
            dot += a * b;
            nf += a * a;
            nc += b * b;
        }
        return nf == 0 || nc == 0 ? 0 : dot / (Math.sqrt(nf) * Math.sqrt(nc));
    }
}
