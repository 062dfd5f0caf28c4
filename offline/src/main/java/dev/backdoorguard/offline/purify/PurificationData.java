package dev.backdoorguard.offline.purify;

import dev.backdoorguard.core.data.ImageDataset;

/**
 * The defender's clean data (a seeded class-balanced subset of the training split, never the test
 * set), or none. {@code sourceSize} is the size of the split it was drawn from, for methods whose
 * defaults are a share of the whole training set (SEAM's forget set).
 */
public record PurificationData(ImageDataset clean, int[] indices, String indicesHash, int sourceSize) {
    public PurificationData(ImageDataset clean, int[] indices, String indicesHash) {
        this(clean, indices, indicesHash, clean == null ? 0 : clean.size());
    }

    public static PurificationData none() {
        return new PurificationData(null, new int[0], null, 0);
    }

    public boolean isEmpty() {
        return clean == null;
    }
}
