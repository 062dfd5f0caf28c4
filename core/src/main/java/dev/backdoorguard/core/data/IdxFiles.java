package dev.backdoorguard.core.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Reads MNIST-style IDX files (images: magic 0x803, labels: magic 0x801), gzip or raw. */
final class IdxFiles {
    private static final int IMAGES_MAGIC = 0x0803;
    private static final int LABELS_MAGIC = 0x0801;
    private static final long MAX_BYTES = 1L << 30;

    private IdxFiles() {}

    /** Returns [n][rows*cols] bytes as one array, plus the dimensions. */
    record Images(int count, int rows, int cols, byte[] data) {}

    static Images readImages(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            checkMagic(file, in.readInt(), IMAGES_MAGIC);
            int n = in.readInt();
            int rows = in.readInt();
            int cols = in.readInt();
            if (n <= 0 || rows <= 0 || cols <= 0 || (long) n * rows * cols > MAX_BYTES) {
                throw new DataException(file + ": implausible IDX image dimensions " + n + "x" + rows + "x" + cols);
            }
            return new Images(n, rows, cols, readExactly(in, n * rows * cols, file));
        }
    }

    static int[] readLabels(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            checkMagic(file, in.readInt(), LABELS_MAGIC);
            int n = in.readInt();
            if (n <= 0 || n > MAX_BYTES) {
                throw new DataException(file + ": implausible IDX label count " + n);
            }
            byte[] raw = readExactly(in, n, file);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = raw[i] & 0xff;
            }
            return labels;
        } catch (EOFException e) {
            throw new DataException(file + ": truncated IDX header");
        }
    }

    private static DataInputStream open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new DataException(file + ": file not found");
        }
        InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        raw.mark(2);
        int b0 = raw.read();
        int b1 = raw.read();
        raw.reset();
        boolean gzip = b0 == 0x1f && b1 == 0x8b;
        return new DataInputStream(gzip ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw);
    }

    private static void checkMagic(Path file, int magic, int expected) throws DataException {
        if (magic != expected) {
            throw new DataException(String.format("%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)", file,
                    expected == IMAGES_MAGIC ? "image" : "label", magic, expected));
        }
    }

    private static byte[] readExactly(InputStream in, int n, Path file) throws IOException {
        byte[] out = in.readNBytes(n);
        if (out.length != n) {
            throw new DataException(file + ": truncated (expected " + n + " data bytes, found " + out.length + ")");
        }
        return out;
    }
}
