package dev.backdoorguard.core.data;

import java.util.Random;

/**
 * The training augmentation of the specs: zero-pad the pixel image by {@code padding}, random-crop
 * back to H×W, then flip horizontally with probability 0.5 when enabled (torchvision's order).
 */
public record Augmentation(int padding, boolean flip) {
    public static final Augmentation NONE = new Augmentation(0, false);

    public Augmentation {
        if (padding < 0) {
            throw new IllegalArgumentException("padding must be >= 0, got " + padding);
        }
    }

    /** Augments one image from {@code src} at {@code srcOff} into {@code dst} at {@code dstOff}. */
    public void apply(float[] src, int srcOff, float[] dst, int dstOff, int c, int h, int w, Random random) {
        int dy = padding == 0 ? 0 : random.nextInt(2 * padding + 1) - padding;
        int dx = padding == 0 ? 0 : random.nextInt(2 * padding + 1) - padding;
        boolean mirror = flip && random.nextBoolean();
        for (int ch = 0; ch < c; ch++) {
            int plane = ch * h * w;
            for (int y = 0; y < h; y++) {
                int sy = y + dy;
                for (int x = 0; x < w; x++) {
                    int sx = (mirror ? w - 1 - x : x) + dx;
                    float v = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[srcOff + plane + sy * w + sx] : 0f;
                    dst[dstOff + plane + y * w + x] = v;
                }
            }
        }
    }
}
