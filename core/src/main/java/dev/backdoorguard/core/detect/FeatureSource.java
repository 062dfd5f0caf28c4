package dev.backdoorguard.core.detect;

import java.io.IOException;

/**
 * Benign labelled samples with all their tapped features, which calibration reads more than once
 * (a real model recomputes the features each pass instead of holding them all in memory).
 */
@FunctionalInterface
public interface FeatureSource {
    /** Hands every batch to {@code consumer}, in the same order on every call. */
    void forEachBatch(BatchConsumer consumer) throws IOException;

    /** Receives one batch. */
    @FunctionalInterface
    interface BatchConsumer {
        void accept(FeatureBatch batch);
    }
}
