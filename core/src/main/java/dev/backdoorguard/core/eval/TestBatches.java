package dev.backdoorguard.core.eval;

import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.trigger.Trigger;
import java.util.Arrays;
import java.util.stream.IntStream;

/** How the evaluators walk a test set: fixed-size batches of plain or triggered pixels, in order. */
final class TestBatches {
    private TestBatches() {}

    /** Receives one batch: its first index, its size and its pixels ({@code count} images). */
    @FunctionalInterface
    interface Batch {
        void accept(int start, int count, float[] pixels);
    }

    /** Calls {@code batch} for every run of {@code batchSize} images (the last may be shorter). */
    static void forEach(ImageDataset data, Trigger trigger, int batchSize, Batch batch) {
        int n = data.size();
        int size = data.imageSize();
        for (int start = 0; start < n; start += batchSize) {
            int count = Math.min(batchSize, n - start);
            float[] pixels = trigger == null
                    ? Arrays.copyOfRange(data.pixels(), start * size, (start + count) * size)
                    : trigger.applied(data.pixels(), start, count, size);
            batch.accept(start, count, pixels);
        }
    }

    /** The indices of the images whose true label is not {@code target}: the ones a trigger can flip. */
    static int[] nonTarget(ImageDataset test, int target) {
        return IntStream.range(0, test.size()).filter(i -> test.labels()[i] != target).toArray();
    }
}
