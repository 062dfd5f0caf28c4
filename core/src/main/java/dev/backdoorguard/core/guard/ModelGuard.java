package dev.backdoorguard.core.guard;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.model.Classifier;
import java.util.Optional;

/**
 * The DJL implementation of {@link Guard}: one {@link Classifier} shared read-only by every caller,
 * one sub-manager per batch, so every array of the forward pass is freed when the call returns.
 */
public final class ModelGuard implements Guard {
    private final Classifier classifier;

    /** Takes ownership of {@code classifier}: closing the guard closes it. */
    public ModelGuard(Classifier classifier) {
        this.classifier = classifier;
    }

    @Override
    public ModelSpec spec() {
        return classifier.spec();
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
    public Inspection inspect(PixelBatch image) {
        throw new GuardException("model " + classifier.spec().architecture() + " has no calibrated detector");
    }

    @Override
    public BatchPrediction predict(PixelBatch batch, boolean guard) {
        ModelSpec spec = classifier.spec();
        if (batch.channels() != spec.channels() || batch.height() != spec.height()
                || batch.width() != spec.imageWidth()) {
            throw new InvalidInputException("expected images [N, " + spec.channels() + ", " + spec.height() + ", "
                    + spec.imageWidth() + "], got [" + batch.size() + ", " + batch.channels() + ", "
                    + batch.height() + ", " + batch.width() + "]");
        }
        // Grad mode is thread-local in libtorch and on by default in a new thread: inference must not
        // record an autograd graph.
        JniUtils.setGradMode(false);
        try (NDManager scope = classifier.manager().newSubManager()) {
            NDArray x = scope.create(batch.pixels(),
                    new Shape(batch.size(), batch.channels(), batch.height(), batch.width()));
            NDArray logits = classifier.forward(x, false);
            float[] logitValues = logits.toFloatArray();
            float[] probabilities = logits.softmax(1).toFloatArray();
            int[] labels = logits.argMax(1).toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray();
            return new BatchPrediction(batch.size(), spec.numClasses(), logitValues, probabilities, labels, null, null);
        }
    }

    @Override
    public void close() {
        classifier.close();
    }
}
