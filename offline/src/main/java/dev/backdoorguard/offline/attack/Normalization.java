package dev.backdoorguard.offline.attack;

import dev.backdoorguard.core.data.ImageDataset;

/**
 * Per-channel mean and standard deviation of a training set, rounded to 4 decimals (Fashion-MNIST:
 * 0.2860 and 0.3530, DESIGN.md §3's example). Written into model.json as the bundle's normalisation.
 */
final class Normalization {
    private Normalization() {}

    static float[] mean(ImageDataset data) {
        return moments(data)[0];
    }

    static float[] std(ImageDataset data) {
        return moments(data)[1];
    }

    private static float[][] moments(ImageDataset data) {
        int c = data.channels();
        int plane = data.height() * data.width();
        double[] sum = new double[c];
        double[] sq = new double[c];
        float[] px = data.pixels();
        for (int i = 0; i < data.size(); i++) {
            for (int ch = 0; ch < c; ch++) {
                int base = i * data.imageSize() + ch * plane;
                for (int p = 0; p < plane; p++) {
                    double v = px[base + p];
                    sum[ch] += v;
                    sq[ch] += v * v;
                }
            }
        }
        float[][] out = new float[2][c];
        double n = (double) data.size() * plane;
        for (int ch = 0; ch < c; ch++) {
            double mean = sum[ch] / n;
            double std = Math.sqrt(Math.max(sq[ch] / n - mean * mean, 1e-12));
            out[0][ch] = round4(mean);
            out[1][ch] = Math.max(round4(std), 1e-4f);
        }
        return out;
    }

    private static float round4(double v) {
        return (float) (Math.round(v * 1e4) / 1e4);
    }
}
