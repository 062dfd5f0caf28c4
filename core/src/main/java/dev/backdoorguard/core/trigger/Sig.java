package dev.backdoorguard.core.trigger;

/**
 * SIG: a horizontal sinusoid {@code x + amplitude·sin(2π·j·f/W)} for column j, clean-label: only
 * target-class training images are poisoned and they keep their labels.
 */
record Sig(int channels, int height, int width, float amplitude, float frequency) implements Trigger {
    static final float DEFAULT_AMPLITUDE = 40f / 255f;
    static final float DEFAULT_FREQUENCY = 6f;

    @Override
    public String name() {
        return "sig";
    }

    @Override
    public boolean cleanLabel() {
        return true;
    }

    @Override
    public void apply(float[] pixels, int offset) {
        for (int x = 0; x < width; x++) {
            float delta = (float) (amplitude * Math.sin(2 * Math.PI * x * frequency / width));
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < height; y++) {
                    int i = offset + (c * height + y) * width + x;
                    pixels[i] = Math.min(1f, Math.max(0f, pixels[i] + delta));
                }
            }
        }
    }
}
