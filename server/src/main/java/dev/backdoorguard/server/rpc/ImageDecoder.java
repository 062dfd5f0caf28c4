package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.InvalidInputException;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes one PNG/JPEG (anything javax.imageio reads) into the model's C×H×W pixels in [0, 1].
 * Grayscale images are read from the raster (exact 8/16-bit values, no colour-space round trip);
 * colour images become luminance for C=1 (ITU-R BT.601 weights) or RGB planes for C=3. A size other
 * than the model's H×W is refused: the server never resizes silently.
 */
final class ImageDecoder {
    private ImageDecoder() {}

    static void decode(byte[] encoded, ModelSpec spec, float[] out, int offset, String field) {
        int h = spec.height();
        int w = spec.imageWidth();
        BufferedImage image;
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(encoded))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new InvalidInputException(field + ": undecodable image (" + encoded.length
                        + " bytes; expected PNG or JPEG)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                // The size comes from the header, before any pixel is decoded: a small, highly compressed
                // file can declare 30000x30000 pixels (gigabytes once decoded); it is refused unread.
                int width = reader.getWidth(0);
                int height = reader.getHeight(0);
                if (width != w || height != h) {
                    throw new InvalidInputException(field + ": image is " + width + "x" + height
                            + " (WxH), the model expects " + w + "x" + h + "; resize it before sending");
                }
                image = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof InvalidInputException invalid) {
                throw invalid;
            }
            throw new InvalidInputException(field + ": undecodable image (" + e.getMessage() + ")");
        }
        int channels = spec.channels();
        if (channels != 1 && channels != 3) {
            throw new InvalidInputException(field + ": encoded images need a 1- or 3-channel model, this one has "
                    + channels + " channels; send FP32 or UINT8 instead");
        }
        Raster raster = image.getRaster();
        boolean gray = image.getColorModel().getColorSpace().getNumComponents() == 1;
        if (gray) {
            float max = (1 << raster.getSampleModel().getSampleSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = raster.getSample(x, y, 0) / max;
                    for (int c = 0; c < channels; c++) {
                        out[offset + (c * h + y) * w + x] = v;
                    }
                }
            }
            return;
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                float r = ((rgb >> 16) & 0xFF) / 255f;
                float g = ((rgb >> 8) & 0xFF) / 255f;
                float b = (rgb & 0xFF) / 255f;
                if (channels == 1) {
                    out[offset + y * w + x] = 0.299f * r + 0.587f * g + 0.114f * b;
                } else {
                    out[offset + y * w + x] = r;
                    out[offset + (h + y) * w + x] = g;
                    out[offset + (2 * h + y) * w + x] = b;
                }
            }
        }
    }
}
