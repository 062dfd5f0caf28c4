package dev.backdoorguard.core.detect;

/** Cosine similarity in double precision with sklearn's convention: 0 when either vector is zero. */
final class Cosine {
    private Cosine() {}

    /** cos(f[offset .. offset + centroid.length), centroid). */
    static double of(float[] f, int offset, float[] centroid) {
        double dot = 0;
        double nf = 0;
        double nc = 0;
        for (int k = 0; k < centroid.length; k++) {
            double a = f[offset + k];
            double b = centroid[k];
            dot += a * b;
            nf += a * a;
            nc += b * b;
        }
        return nf == 0 || nc == 0 ? 0 : dot / (Math.sqrt(nf) * Math.sqrt(nc));
    }

    /** As {@link #of(float[], int, float[])} against a double-precision centroid. */
    static double of(float[] f, int offset, double[] centroid) {
        double dot = 0;
        double nf = 0;
        double nc = 0;
        for (int k = 0; k < centroid.length; k++) {
            double a = f[offset + k];
            double b = centroid[k];
            dot += a * b;
            nf += a * a;
            nc += b * b;
        }
        return nf == 0 || nc == 0 ? 0 : dot / (Math.sqrt(nf) * Math.sqrt(nc));
    }
}
