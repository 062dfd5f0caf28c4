package dev.backdoorguard.core.detect;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.model.NoGrad;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The tapped features of a classifier over a data set, in eval mode, one batch at a time: every
 * declared tap flattened per sample (no pooling), recomputed on every pass so that only one batch of
 * features is ever on the heap.
 */
public final class ClassifierFeatures implements FeatureSource {
    private final Classifier classifier;
    private final ImageDataset data;
    private final int batchSize;
    private final IntConsumer progress;

    /** {@code progress} receives the number of samples done so far in the current pass. */
    public ClassifierFeatures(Classifier classifier, ImageDataset data, int batchSize, IntConsumer progress) {
        if (!Arrays.equals(classifier.spec().inputShape(), data.shape())) {
            throw new IllegalArgumentException("data set images are " + Arrays.toString(data.shape())
                    + " but the model expects " + Arrays.toString(classifier.spec().inputShape()));
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.classifier = classifier;
        this.data = data;
        this.batchSize = batchSize;
        this.progress = progress;
    }

    @Override
    public void forEachBatch(BatchConsumer consumer) {
        List<String> taps = classifier.architecture().taps();
        int size = data.imageSize();
        try (NoGrad noGrad = NoGrad.enter()) {
            for (int start = 0; start < data.size(); start += batchSize) {
                int n = Math.min(batchSize, data.size() - start);
                float[][] features = new float[taps.size()][];
                int[] predicted;
                try (NDManager scope = classifier.manager().newSubManager()) {
                    NDArray x = scope.create(Arrays.copyOfRange(data.pixels(), start * size, (start + n) * size),
                            new Shape(n, data.channels(), data.height(), data.width()));
                    NDList out = classifier.forwardWithTaps(x, false, taps);
                    Map<String, NDArray> byName = new HashMap<>();
                    for (int i = 1; i < out.size(); i++) {
                        byName.put(out.get(i).getName(), out.get(i));
                    }
                    for (int l = 0; l < taps.size(); l++) {
                        features[l] = byName.get(taps.get(l)).toFloatArray();
                    }
                    predicted = out.get(0).argMax(1).toType(DataType.INT32, false).toIntArray();
                }
                consumer.accept(new FeatureBatch(n, Arrays.copyOfRange(data.labels(), start, start + n), predicted,
                        features));
                progress.accept(start + n);
            }
        }
    }
}
