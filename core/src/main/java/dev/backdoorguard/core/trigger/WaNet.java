package dev.backdoorguard.core.trigger;

/**
 * WaNet's warping trigger (k = 4, s = 0.5, as in the paper's code): a random k×k field of 2-D
 * offsets in [-1, 1] (from SplitMix64, channel x first), normalised by its mean absolute value,
 * upsampled bicubically (align_corners) to H×W, scaled by s/H, added to the identity sampling grid,
 * clamped to [-1, 1], and sampled bilinearly (align_corners), exactly as {@code F.grid_sample}.
 */
final class WaNet implements Trigger {
    private final int channels;
    private final int height;
    private final int width;
    /** Source coordinates (in pixels) of each output pixel. */
    private final float[] sourceY;
    private final float[] sourceX;

    WaNet(int channels, int height, int width, long seed, int k, float strength) {
        if (k < 2) {
            throw new IllegalArgumentException("wanet grid size k must be >= 2, got " + k);
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        SplitMix64 random = new SplitMix64(seed);
        double[][][] field = new double[2][k][k];
        double sumAbs = 0;
        for (int d = 0; d < 2; d++) {
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    field[d][i][j] = random.nextDouble() * 2 - 1;
                    sumAbs += Math.abs(field[d][i][j]);
                }
            }
        }
        double meanAbs = sumAbs / (2.0 * k * k);
        sourceY = new float[height * width];
        sourceX = new float[height * width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double gx = linspace(x, width) + strength * bicubic(field[0], k, y, x) / meanAbs / height;
                double gy = linspace(y, height) + strength * bicubic(field[1], k, y, x) / meanAbs / height;
                gx = Math.max(-1, Math.min(1, gx));
                gy = Math.max(-1, Math.min(1, gy));
                sourceX[y * width + x] = (float) ((gx + 1) / 2 * (width - 1));
                sourceY[y * width + x] = (float) ((gy + 1) / 2 * (height - 1));
            }
        }
    }

    private static double linspace(int i, int n) {
        return n == 1 ? -1 : -1 + 2.0 * i / (n - 1);
    }

    /** PyTorch's bicubic upsampling (A = -0.75, align_corners, clamped borders) of a k×k plane. */
    private double bicubic(double[][] plane, int k, int y, int x) {
        double sy = height == 1 ? 0 : (double) y * (k - 1) / (height - 1);
        double sx = width == 1 ? 0 : (double) x * (k - 1) / (width - 1);
        int iy = (int) Math.floor(sy);
        int ix = (int) Math.floor(sx);
        double ty = sy - iy;
        double tx = sx - ix;
        double[] wy = cubicWeights(ty);
        double[] wx = cubicWeights(tx);
        double v = 0;
        for (int a = 0; a < 4; a++) {
            int row = Math.min(k - 1, Math.max(0, iy - 1 + a));
            double r = 0;
            for (int b = 0; b < 4; b++) {
                int col = Math.min(k - 1, Math.max(0, ix - 1 + b));
                r += wx[b] * plane[row][col];
            }
            v += wy[a] * r;
        }
        return v;
    }

    private static double[] cubicWeights(double t) {
        double a = -0.75;
        return new double[] {
            cubicFar(t + 1, a), cubicNear(t, a), cubicNear(1 - t, a), cubicFar(2 - t, a)
        };
    }

    private static double cubicNear(double x, double a) {
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    }

    private static double cubicFar(double x, double a) {
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }

    @Override
    public String name() {
        return "wanet";
    }

    @Override
    public void apply(float[] pixels, int offset) {
        int plane = height * width;
        float[] copy = new float[channels * plane];
        System.arraycopy(pixels, offset, copy, 0, copy.length);
        for (int p = 0; p < plane; p++) {
            float fy = sourceY[p];
            float fx = sourceX[p];
            int y0 = (int) Math.floor(fy);
            int x0 = (int) Math.floor(fx);
            float dy = fy - y0;
            float dx = fx - x0;
            for (int c = 0; c < channels; c++) {
                int base = c * plane;
                float v = (1 - dy) * ((1 - dx) * at(copy, base, y0, x0) + dx * at(copy, base, y0, x0 + 1))
                        + dy * ((1 - dx) * at(copy, base, y0 + 1, x0) + dx * at(copy, base, y0 + 1, x0 + 1));
                pixels[offset + base + p] = Math.min(1f, Math.max(0f, v));
            }
        }
    }

    private float at(float[] img, int base, int y, int x) {
        return y < 0 || y >= height || x < 0 || x >= width ? 0f : img[base + y * width + x];
    }
}
