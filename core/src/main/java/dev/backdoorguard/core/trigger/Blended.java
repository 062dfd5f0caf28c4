package dev.backdoorguard.core.trigger;

/**
 * {@code x' = (1 - alpha)·x + alpha·t} over the whole image. {@code t} is a fixed pattern: by default
 * a noise image filled row-major (c, h, w) with SplitMix64 doubles from the seed, or a user image.
 */
final class Blended implements Trigger {
    private final float alpha;
    private final float[] pattern;

    Blended(float alpha, float[] pattern) {
        if (!(alpha > 0 && alpha <= 1)) {
            throw new IllegalArgumentException("blended alpha must be in (0, 1], got " + alpha);
        }
        this.alpha = alpha;
        this.pattern = pattern.clone();
    }

    static float[] noise(long seed, int size) {
        SplitMix64 random = new SplitMix64(seed);
        float[] t = new float[size];
        for (int i = 0; i < size; i++) {
            t[i] = (float) random.nextDouble();
        }
        return t;
    }

    @Override
    public String name() {
        return "blended";
    }

    @Override
    public void apply(float[] pixels, int offset) {
        for (int i = 0; i < pattern.length; i++) {
            float v = (1 - alpha) * pixels[offset + i] + alpha * pattern[i];
            pixels[offset + i] = Math.min(1f, Math.max(0f, v));
        }
    }
}
