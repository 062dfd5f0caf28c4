package dev.backdoorguard.core.guard;

/**
 * A batch of images as plain pixels in [0, 1], row-major {@code [size, channels, height, width]}:
 * what the server hands to a {@link Guard}. No engine array crosses the facade.
 */
public record PixelBatch(float[] pixels, int size, int channels, int height, int width) {

    public PixelBatch {
        if (size < 1 || channels < 1 || height < 1 || width < 1) {
            throw new InvalidInputException("batch shape must be positive, got [" + size + ", " + channels + ", "
                    + height + ", " + width + "]");
        }
        long expected = (long) size * channels * height * width;
        if (pixels == null || pixels.length != expected) {
            throw new InvalidInputException("batch [" + size + ", " + channels + ", " + height + ", " + width
                    + "] needs " + expected + " values, got " + (pixels == null ? 0 : pixels.length));
        }
    }

    /** Values per image: {@code channels * height * width}. */
    public int imageSize() {
        return channels * height * width;
    }
}
