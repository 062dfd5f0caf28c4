package dev.backdoorguard.offline.purify;

import dev.backdoorguard.core.data.ImageDataset;

/** The defender's clean data (a seeded class-balanced subset of the training set, never the test set), or none. */
public record PurificationData(ImageDataset clean, int[] indices, String indicesHash) {
    public static PurificationData none() {
        return new PurificationData(null, new int[0], null);
    }

    public boolean isEmpty() {
        return clean == null;
    }
}
