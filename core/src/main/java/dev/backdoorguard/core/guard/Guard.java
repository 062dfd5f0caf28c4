package dev.backdoorguard.core.guard;

import dev.backdoorguard.core.bundle.ModelSpec;
import java.util.Optional;

/**
 * The facade the server calls: one loaded model and its optional detector. It takes and returns
 * plain Java values; implementations are thread-safe and open one native scope per call.
 */
public interface Guard extends AutoCloseable {

    /** The bundle's {@code model.json}. */
    ModelSpec spec();

    /** Whether the bundle carries a calibrated detector. */
    boolean hasDetector();

    /** The detector's calibration summary, or empty when the bundle has none. */
    Optional<DetectorSummary> detector();

    /**
     * Classifies {@code batch} in one forward pass; when {@code guard} is true and a detector is
     * present, also scores and flags every item from the same pass.
     */
    BatchPrediction predict(PixelBatch batch, boolean guard);

    /**
     * The detector's per-layer view of one image ({@code image.size() == 1}).
     *
     * @throws GuardException when the bundle has no detector
     */
    Inspection inspect(PixelBatch image);

    @Override
    void close();
}
