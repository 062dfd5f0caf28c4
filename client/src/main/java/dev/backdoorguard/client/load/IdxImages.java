package dev.backdoorguard.client.load;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Images and labels from an IDX pair (MNIST / Fashion-MNIST format, gzip or raw), as unsigned bytes.
 *
 * <p>Why not core's reader: the client must run without libtorch, and {@code guard-core} drags DJL in (DESIGN.md §2:
 * {@code client -> proto} only). The format is two big-endian headers and a byte array, so a small reader here costs
 * less than a shared module would.
 *
 * @param count number of images
 * @param rows image height
 * @param cols image width
 * @param pixels {@code count * rows * cols} bytes, row-major
 * @param labels {@code count} class indices
 */
public record IdxImages(int count, int rows, int cols, byte[] pixels, byte[] labels) {
    private static final int IMAGES_MAGIC = 0x0803;
    private static final int LABELS_MAGIC = 0x0801;

    public IdxImages {
        if (count < 1 || rows < 1 || cols < 1) {
            throw new IllegalArgumentException("empty IDX data: " + count + " images of " + rows + "x" + cols);
        }
        if (pixels.length != (long) count * rows * cols || labels.length != count) {
            throw new IllegalArgumentException("IDX sizes disagree: " + pixels.length + " pixel bytes, "
                    + labels.length + " labels for " + count + " images of " + rows + "x" + cols);
        }
    }

    /** The Fashion-MNIST (or MNIST) test set in {@code dir}: {@code t10k-images-idx3-ubyte[.gz]} and labels. */
    public static IdxImages testSet(Path dir) throws IOException {
        return read(find(dir, "t10k-images-idx3-ubyte"), find(dir, "t10k-labels-idx1-ubyte"));
    }

    /** Reads an images file and its labels file (each gzip or raw). */
    public static IdxImages read(Path images, Path labels) throws IOException {
        int count;
        int rows;
        int cols;
        byte[] pixels;
        try (DataInputStream in = open(images)) {
            checkMagic(in.readInt(), IMAGES_MAGIC, images);
            count = in.readInt();
            rows = in.readInt();
            cols = in.readInt();
            pixels = readExactly(in, (long) count * rows * cols, images);
        }
        byte[] labelBytes;
        try (DataInputStream in = open(labels)) {
            checkMagic(in.readInt(), LABELS_MAGIC, labels);
            int labelCount = in.readInt();
            if (labelCount != count) {
                throw new IOException(labels + " has " + labelCount + " labels, " + images + " has " + count
                        + " images");
            }
            labelBytes = readExactly(in, labelCount, labels);
        }
        return new IdxImages(count, rows, cols, pixels, labelBytes);
    }

    /** Image {@code index} as FP32 pixels in [0,1], shape [1,rows,cols]. */
    public float[] image(int index) {
        int plane = rows * cols;
        float[] result = new float[plane];
        for (int p = 0; p < plane; p++) {
            result[p] = (pixels[index * plane + p] & 0xff) / 255f;
        }
        return result;
    }

    /** The class of image {@code index}. */
    public int label(int index) {
        return labels[index] & 0xff;
    }

    private static Path find(Path dir, String stem) throws IOException {
        for (String name : new String[] {stem + ".gz", stem}) {
            Path file = dir.resolve(name);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new IOException("no " + stem + "[.gz] in " + dir
                + " (install Debian's dataset-fashion-mnist, or pass --data-dir / set GUARD_DATA_DIR)");
    }

    private static DataInputStream open(Path file) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(file));
        raw.mark(2);
        boolean gzip = raw.read() == 0x1f && raw.read() == 0x8b;
        raw.reset();
        return new DataInputStream(gzip ? new BufferedInputStream(new GZIPInputStream(raw)) : raw);
    }

    private static void checkMagic(int magic, int expected, Path file) throws IOException {
        if (magic != expected) {
            throw new IOException(file + " is not an IDX " + (expected == IMAGES_MAGIC ? "images" : "labels")
                    + " file (magic 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(expected)
                    + ")");
        }
    }

    private static byte[] readExactly(DataInputStream in, long size, Path file) throws IOException {
        if (size > Integer.MAX_VALUE - 8) {
            throw new IOException(file + " is too large: " + size + " bytes");
        }
        byte[] data = new byte[(int) size];
        try {
            in.readFully(data);
        } catch (java.io.EOFException e) {
            throw new IOException(file + " is truncated: expected " + size + " data bytes", e);
        }
        return data;
    }
}
