package dev.backdoorguard.client;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code input} tensor of one inference request, in one of the three forms the server accepts (DESIGN.md §7):
 * FP32 [N,C,H,W] pixels in [0,1], UINT8 [N,C,H,W] pixels in 0..255, or BYTES [N] encoded PNG/JPEG images. Immutable;
 * the factories copy their arguments.
 */
public final class InputBatch {

    /** The wire datatypes of the {@code input} tensor. */
    public enum Datatype {
        FP32,
        UINT8,
        BYTES
    }

    private final Datatype datatype;
    private final long[] shape;
    private final byte[] raw; // FP32 little-endian or UINT8; null for BYTES
    private final List<byte[]> encoded; // BYTES items; empty otherwise

    private InputBatch(Datatype datatype, long[] shape, byte[] raw, List<byte[]> encoded) {
        this.datatype = datatype;
        this.shape = shape;
        this.raw = raw;
        this.encoded = encoded;
    }

    /** FP32 pixels in [0,1], row-major with {@code shape} = [N,C,H,W]. */
    public static InputBatch pixels(float[] data, long... shape) {
        checkImageShape(shape, data.length);
        ByteBuffer buffer = ByteBuffer.allocate(data.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : data) {
            if (!(value >= 0f && value <= 1f)) {
                throw new IllegalArgumentException("pixel values must be in [0,1], got " + value);
            }
            buffer.putFloat(value);
        }
        return new InputBatch(Datatype.FP32, shape.clone(), buffer.array(), List.of());
    }

    /** UINT8 pixels (0..255), row-major with {@code shape} = [N,C,H,W]. */
    public static InputBatch uint8(byte[] data, long... shape) {
        checkImageShape(shape, data.length);
        return new InputBatch(Datatype.UINT8, shape.clone(), data.clone(), List.of());
    }

    /** Encoded images (PNG or JPEG file contents), one per item; the server decodes them. */
    public static InputBatch encoded(List<byte[]> images) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one image");
        }
        List<byte[]> copies = new ArrayList<>(images.size());
        for (byte[] image : images) {
            if (image.length == 0) {
                throw new IllegalArgumentException("image " + copies.size() + " is empty");
            }
            copies.add(image.clone());
        }
        return new InputBatch(Datatype.BYTES, new long[] {images.size()}, null, List.copyOf(copies));
    }

    /** The contents of image files (PNG or JPEG), one item per file. */
    public static InputBatch files(List<Path> files) {
        List<byte[]> images = new ArrayList<>(files.size());
        for (Path file : files) {
            try {
                images.add(Files.readAllBytes(file));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read image " + file + ": " + e.getMessage(), e);
            }
        }
        return encoded(images);
    }

    /**
     * Images converted to FP32 pixels with {@code channels} channels (1: luminance, 3: RGB), all of the same size.
     * The server expects the model's input size; nothing is resized here.
     */
    public static InputBatch images(List<BufferedImage> images, int channels) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one image");
        }
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        int height = images.get(0).getHeight();
        int width = images.get(0).getWidth();
        int plane = height * width;
        float[] data = new float[images.size() * channels * plane];
        for (int n = 0; n < images.size(); n++) {
            BufferedImage image = images.get(n);
            if (image.getHeight() != height || image.getWidth() != width) {
                throw new IllegalArgumentException("image " + n + " is " + image.getWidth() + "x" + image.getHeight()
                        + ", image 0 is " + width + "x" + height);
            }
            int base = n * channels * plane;
            // Gray images are read from the raster: getRGB would convert their linear gray to sRGB and change
            // the values the model sees (a PNG of gray level 26 would arrive as about 90).
            boolean gray = image.getColorModel().getColorSpace().getNumComponents() == 1;
            float grayScale = (1 << image.getColorModel().getComponentSize(0)) - 1;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    if (gray) {
                        float value = image.getRaster().getSample(x, y, 0) / grayScale;
                        for (int c = 0; c < channels; c++) {
                            data[base + c * plane + y * width + x] = value;
                        }
                        continue;
                    }
                    int rgb = image.getRGB(x, y);
                    float r = ((rgb >> 16) & 0xff) / 255f;
                    float g = ((rgb >> 8) & 0xff) / 255f;
                    float b = (rgb & 0xff) / 255f;
                    int at = base + y * width + x;
                    if (channels == 1) {
                        // ITU-R BT.601 luma, the weights PIL's convert("L") uses.
                        data[at] = Math.min(1f, 0.299f * r + 0.587f * g + 0.114f * b);
                    } else {
                        data[at] = r;
                        data[at + plane] = g;
                        data[at + 2 * plane] = b;
                    }
                }
            }
        }
        return pixels(data, images.size(), channels, height, width);
    }

    /** The wire datatype. */
    public Datatype datatype() {
        return datatype;
    }

    /** The tensor shape ([N,C,H,W], or [N] for BYTES). */
    public long[] shape() {
        return shape.clone();
    }

    /** The number of items N. */
    public int size() {
        return (int) shape[0];
    }

    /** The payload size in bytes (for encoded images, the sum of their sizes). */
    public long byteSize() {
        return raw != null ? raw.length : encoded.stream().mapToLong(image -> image.length).sum();
    }

    byte[] raw() {
        return raw;
    }

    List<byte[]> encodedImages() {
        return encoded;
    }

    private static void checkImageShape(long[] shape, int elements) {
        if (shape.length != 4) {
            throw new IllegalArgumentException("shape must be [N,C,H,W], got " + Arrays.toString(shape));
        }
        long product = 1;
        for (long dim : shape) {
            if (dim < 1) {
                throw new IllegalArgumentException("shape dimensions must be positive, got " + Arrays.toString(shape));
            }
            product *= dim;
        }
        if (product != elements) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " needs " + product + " values, got " + elements);
        }
    }
}
