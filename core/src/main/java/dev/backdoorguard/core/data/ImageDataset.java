package dev.backdoorguard.core.data;

import java.util.Arrays;

/**
 * Images in pixel space [0, 1], row-major [N, C, H, W], with integer labels in [0, numClasses).
 * Plain Java memory: datasets are shared freely and never hold engine arrays.
 */
public record ImageDataset(int channels, int height, int width, int numClasses, float[] pixels, int[] labels) {
    public ImageDataset {
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("bad image shape " + channels + "x" + height + "x" + width);
        }
        if ((long) labels.length * channels * height * width != pixels.length) {
            throw new IllegalArgumentException(labels.length + " labels do not match " + pixels.length + " pixels of "
                    + channels + "x" + height + "x" + width + " images");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label " + labels[i] + " of item " + i + " is outside [0, "
                        + numClasses + ")");
            }
        }
    }

    public int size() {
        return labels.length;
    }

    public int imageSize() {
        return channels * height * width;
    }

    public int[] shape() {
        return new int[] {channels, height, width};
    }

    /** The items at {@code indices}, in that order (copied). */
    public ImageDataset subset(int[] indices) {
        int s = imageSize();
        float[] px = new float[indices.length * s];
        int[] lb = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            System.arraycopy(pixels, indices[i] * s, px, i * s, s);
            lb[i] = labels[indices[i]];
        }
        return new ImageDataset(channels, height, width, numClasses, px, lb);
    }

    /** How many items each class has. */
    public int[] classCounts() {
        int[] counts = new int[numClasses];
        for (int label : labels) {
            counts[label]++;
        }
        return counts;
    }

    /** A SHA-256 over shape, pixels and labels: identifies the exact data a run used. */
    public String fingerprint() {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(pixels.length * 4 + labels.length * 4 + 16);
        buf.putInt(channels).putInt(height).putInt(width).putInt(numClasses);
        buf.asFloatBuffer().put(pixels);
        buf.position(16 + pixels.length * 4);
        buf.asIntBuffer().put(labels);
        return dev.backdoorguard.core.bundle.Bundles.sha256(buf.array());
    }

    @Override
    public String toString() {
        return "ImageDataset[" + size() + " x " + channels + "x" + height + "x" + width + ", classes "
                + Arrays.toString(classCounts()) + "]";
    }
}
