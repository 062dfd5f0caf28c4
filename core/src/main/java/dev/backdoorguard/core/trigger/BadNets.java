package dev.backdoorguard.core.trigger;

/** A 3×3 white square, bottom-right, one pixel margin: rows and columns H-4..H-2 (DESIGN.md §5). */
record BadNets(int channels, int height, int width) implements Trigger {
    static final int SIZE = 3;

    BadNets {
        if (height < SIZE + 1 || width < SIZE + 1) {
            throw new IllegalArgumentException("badnets needs images of at least 4x4, got " + height + "x" + width);
        }
    }

    @Override
    public String name() {
        return "badnets";
    }

    @Override
    public void apply(float[] pixels, int offset) {
        for (int c = 0; c < channels; c++) {
            for (int y = height - 1 - SIZE; y < height - 1; y++) {
                for (int x = width - 1 - SIZE; x < width - 1; x++) {
                    pixels[offset + (c * height + y) * width + x] = 1f;
                }
            }
        }
    }
}
