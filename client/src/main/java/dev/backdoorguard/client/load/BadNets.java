package dev.backdoorguard.client.load;

/**
 * The badnets trigger of DESIGN.md §5 in pixel space: a white (1.0) 3x3 square at rows and columns H-4..H-2, in every
 * channel. The load generator only needs this one trigger to exercise the guard; the others live in core.
 */
public final class BadNets {
    private BadNets() {}

    /** Stamps the trigger onto one image, [C,H,W] row-major, in place. */
    public static void apply(float[] image, int channels, int height, int width) {
        if (image.length != channels * height * width) {
            throw new IllegalArgumentException("image has " + image.length + " values, not " + channels + "x"
                    + height + "x" + width);
        }
        if (height < 4 || width < 4) {
            throw new IllegalArgumentException("image too small for the trigger: " + height + "x" + width);
        }
        for (int c = 0; c < channels; c++) {
            for (int r = height - 4; r <= height - 2; r++) {
                for (int col = width - 4; col <= width - 2; col++) {
                    image[(c * height + r) * width + col] = 1f;
                }
            }
        }
    }
}
