package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.DetectorSummary;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.Inspection;
import dev.backdoorguard.core.guard.PixelBatch;
import java.nio.file.Path;
import java.util.Optional;

/**
 * An engine-free guard for tests: a 2-class model without a detector that answers zeros, counts
 * predictions and remembers whether it was closed. {@link #served} wraps one in a {@link ServedModel}
 * (whose constructor is package-private) for tests in other packages.
 */
public final class RecordingGuard implements Guard {
    private static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 2, 2}, 2, new float[] {0f},
            new float[] {1f}, null, null, null);

    final Path dir;
    int predictions;
    int closes;

    public RecordingGuard(Path dir) {
        this.dir = dir;
    }

    /** A served version {@code version} of model {@code name}, backed by a recording guard. */
    public static ServedModel served(String name, String version) {
        return new ServedModel(name, version, new RecordingGuard(Path.of(name, version)));
    }

    @Override
    public ModelSpec spec() {
        return SPEC;
    }

    @Override
    public boolean hasDetector() {
        return false;
    }

    @Override
    public Optional<DetectorSummary> detector() {
        return Optional.empty();
    }

    @Override
    public BatchPrediction predict(PixelBatch batch, boolean guard) {
        predictions++;
        int n = batch.size();
        return new BatchPrediction(n, 2, new float[n * 2], new float[n * 2], new int[n], null, null);
    }

    @Override
    public Inspection inspect(PixelBatch image) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
        closes++;
    }
}
