package dev.backdoorguard.core.data;

import java.awt.image.BufferedImage;

/** Conversions between decoded images and pixel tensors [C, H, W] in [0, 1]. */
public final class Pixels {
    private Pixels() {}

    /** One channel: ITU-R BT.601 luma, as PIL's "L" mode; three channels: R, G, B. */
    public static float[] fromImage(BufferedImage img, int channels) {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("images can have 1 or 3 channels, not " + channels);
        }
        int h = img.getHeight();
        int w = img.getWidth();
        float[] out = new float[channels * h * w];
        java.awt.image.Raster raster = img.getRaster();
        if (raster.getNumBands() == 1) {
            // Gray images: read the samples as stored; getRGB would apply a gamma conversion.
            double max = (1 << raster.getSampleModel().getSampleSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = (float) (raster.getSample(x, y, 0) / max);
                    for (int c = 0; c < channels; c++) {
                        out[c * h * w + y * w + x] = v;
                    }
                }
            }
            return out;
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                int r = (rgb >> 16) & 0xff;
                int g = (rgb >> 8) & 0xff;
                int b = rgb & 0xff;
                if (channels == 1) {
                    int l = Math.round((r * 299 + g * 587 + b * 114) / 1000f);
                    out[y * w + x] = l / 255f;
                } else {
                    out[y * w + x] = r / 255f;
                    out[h * w + y * w + x] = g / 255f;
                    out[2 * h * w + y * w + x] = b / 255f;
                }
            }
        }
        return out;
    }
}
