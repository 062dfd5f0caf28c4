package dev.backdoorguard.core.eval;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.model.Logits;
import dev.backdoorguard.core.trigger.Trigger;
import java.util.function.IntConsumer;

/** Measures ACC, ASR and RA of a classifier in eval mode (BN uses running statistics). */
public final class Evaluator {
    public static final int DEFAULT_BATCH = 256;

    private final int batchSize;

    public Evaluator(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
    }

    /** The predicted class of every image of {@code test}, optionally triggered first. */
    public int[] predict(Classifier model, ImageDataset test, Trigger trigger, IntConsumer progress) {
        checkData(model.spec(), test);
        int[] predicted = new int[test.size()];
        TestBatches.forEach(test, trigger, batchSize, (start, count, pixels) -> {
            float[][] logits = model.logits(pixels, count);
            for (int i = 0; i < count; i++) {
                predicted[start + i] = Logits.argmax(logits[i], 0, logits[i].length);
            }
            progress.accept(start + count);
        });
        return predicted;
    }

    /** ACC on {@code test}; with a trigger, also ASR and RA on its non-target images. */
    public AttackMetrics evaluate(Classifier model, ImageDataset test, Trigger trigger, int target) {
        return evaluate(model, test, trigger, target, done -> {});
    }

    public AttackMetrics evaluate(Classifier model, ImageDataset test, Trigger trigger, int target, IntConsumer progress) {
        int[] clean = predict(model, test, null, progress);
        if (trigger == null) {
            return AttackMetrics.cleanOnly(correctCount(test, clean), test.size());
        }
        if (target < 0 || target >= model.spec().numClasses()) {
            throw new IllegalArgumentException("target class " + target + " is outside [0, "
                    + model.spec().numClasses() + ")");
        }
        int[] nonTarget = TestBatches.nonTarget(test, target);
        int[] triggered = predict(model, test.subset(nonTarget), trigger, progress);
        return attackMetrics(test, clean, nonTarget, triggered, target);
    }

    /**
     * ACC, ASR and RA from predictions already made: {@code clean} for every image of {@code test},
     * {@code triggered} for its triggered non-target images {@code nonTarget} (in that order).
     */
    static AttackMetrics attackMetrics(ImageDataset test, int[] clean, int[] nonTarget, int[] triggered, int target) {
        int correct = correctCount(test, clean);
        int hits = 0;
        int recovered = 0;
        int conditionalHits = 0;
        int conditionalTotal = 0;
        for (int i = 0; i < triggered.length; i++) {
            int label = test.labels()[nonTarget[i]];
            hits += triggered[i] == target ? 1 : 0;
            recovered += triggered[i] == label ? 1 : 0;
            if (clean[nonTarget[i]] == label) {
                conditionalTotal++;
                conditionalHits += triggered[i] == target ? 1 : 0;
            }
        }
        return new AttackMetrics(AttackMetrics.ratio(correct, test.size()), AttackMetrics.ratio(hits, triggered.length),
                AttackMetrics.ratio(recovered, triggered.length), correct, test.size(), hits, recovered,
                triggered.length, conditionalHits, conditionalTotal);
    }

    private static int correctCount(ImageDataset test, int[] predicted) {
        int correct = 0;
        for (int i = 0; i < predicted.length; i++) {
            correct += predicted[i] == test.labels()[i] ? 1 : 0;
        }
        return correct;
    }

    /** Refuses a data set whose images are not the model's input or whose labels the model cannot predict. */
    static void checkData(ModelSpec model, ImageDataset data) {
        int[] expected = model.inputShape();
        if (!java.util.Arrays.equals(expected, data.shape())) {
            throw new IllegalArgumentException("data set images are " + java.util.Arrays.toString(data.shape())
                    + " but the model expects " + java.util.Arrays.toString(expected));
        }
        if (data.numClasses() > model.numClasses()) {
            throw new IllegalArgumentException("data set has " + data.numClasses() + " classes but the model has "
                    + model.numClasses());
        }
    }
}
