package dev.backdoorguard.core.eval;

import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.core.trigger.Trigger;
import java.util.function.IntConsumer;

/**
 * Measures a guarded model's detector through the serving path ({@link Guard#predict} with the
 * guard on): every clean test image, and the triggered non-target test images that the model sends
 * to the target (successful attacks only, as the reference notebook).
 */
public final class DetectorEvaluator {
    private final int batchSize;

    public DetectorEvaluator(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
    }

    /**
     * The detector's metrics; the model's ACC, ASR and RA from the same passes (the guarded pass
     * predicts what the plain one does); and the scores behind the metrics, for charts: clean and
     * successful triggered images.
     */
    public record Result(DetectorMetrics metrics, AttackMetrics attack, float[] cleanScores, float[] triggeredScores) {}

    /** Scores {@code test} and its triggered non-target images; {@code progress} gets images done. */
    public Result evaluate(Guard guard, ImageDataset test, Trigger trigger, int target, IntConsumer progress) {
        Evaluator.checkData(guard.spec(), test);
        if (!guard.hasDetector()) {
            throw new IllegalArgumentException("the model has no calibrated detector (run guard calibrate first)");
        }
        int k = guard.spec().numClasses();
        if (target < 0 || target >= k) {
            throw new IllegalArgumentException("target class " + target + " is outside [0, " + k + ")");
        }
        Scored clean = score(guard, test, null, progress, 0);
        int[] nonTarget = TestBatches.nonTarget(test, target);
        Scored triggered = score(guard, test.subset(nonTarget), trigger, progress, test.size());
        int[] hits = java.util.stream.IntStream.range(0, nonTarget.length)
                .filter(i -> triggered.predicted[i] == target).toArray();
        float[] tScores = new float[hits.length];
        boolean[] tFlags = new boolean[hits.length];
        for (int i = 0; i < hits.length; i++) {
            tScores[i] = triggered.scores[hits[i]];
            tFlags[i] = triggered.flags[hits[i]];
        }
        DetectorMetrics m = DetectorMetrics.of(clean.scores, clean.flags, clean.predicted, test.labels(), tScores,
                tFlags, k);
        AttackMetrics attack = Evaluator.attackMetrics(test, clean.predicted, nonTarget, triggered.predicted, target);
        return new Result(m, attack, clean.scores, tScores);
    }

    private record Scored(float[] scores, boolean[] flags, int[] predicted) {}

    private Scored score(Guard guard, ImageDataset data, Trigger trigger, IntConsumer progress, int offset) {
        int n = data.size();
        float[] scores = new float[n];
        boolean[] flags = new boolean[n];
        int[] predicted = new int[n];
        TestBatches.forEach(data, trigger, batchSize, (start, count, pixels) -> {
            BatchPrediction p = guard.predict(
                    new PixelBatch(pixels, count, data.channels(), data.height(), data.width()), true);
            System.arraycopy(p.scores(), 0, scores, start, count);
            System.arraycopy(p.flags(), 0, flags, start, count);
            System.arraycopy(p.labels(), 0, predicted, start, count);
            progress.accept(offset + start + count);
        });
        return new Scored(scores, flags, predicted);
    }
}
