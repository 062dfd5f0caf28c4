package dev.backdoorguard.offline.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.model.Classifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Trains every trainable parameter of a classifier with cross-entropy, in train mode. */
public final class TrainingLoop {
    /** What one epoch did. */
    public record Epoch(int epoch, double learningRate, double meanLoss, double seconds) {}

    /** Receives progress: {@code step} of {@code steps} within {@code epoch}, with the running loss. */
    public interface Listener {
        void onStep(int epoch, int epochs, int step, int steps, double runningLoss);

        default void onEpoch(Epoch epoch, int epochs) {}
    }

    /** Algorithm-specific additions to plain supervised training (FST's penalty and projection). */
    public interface Hooks {
        Hooks NONE = new Hooks() {};

        /** A term added to the batch's cross-entropy inside the gradient collector, or null. */
        default NDArray extraLoss(NDManager scope) {
            return null;
        }

        /** Runs after every optimizer step, with grad mode off (in-place parameter edits are allowed). */
        default void afterStep() {}
    }

    private final TrainingConfig config;

    public TrainingLoop(TrainingConfig config) {
        this.config = config;
    }

    /** Trains every parameter that requires a gradient, with plain cross-entropy. */
    public List<Epoch> train(Classifier model, ImageDataset data, Listener listener) {
        List<Parameter> trainable = model.parameters().values().stream().filter(Parameter::requiresGradient).toList();
        return train(model, data, trainable, Hooks.NONE, listener);
    }

    /** Trains {@code trainable} only (the others must be frozen by the caller), with {@code hooks}. */
    public List<Epoch> train(Classifier model, ImageDataset data, List<Parameter> trainable, Hooks hooks,
            Listener listener) {
        Engine.getInstance().setRandomSeed((int) config.seed());
        Random random = new Random(Seeds.derive(config.seed(), "training-order"));
        CosineSchedule schedule = new CosineSchedule(config.learningRate(), config.epochs());
        Batches batches = new Batches(config.batchSize(), config.dropLast(), config.augmentation(), Relabel.TRUE);
        List<Epoch> history = new ArrayList<>();
        try (TorchSgd sgd = new TorchSgd(trainable, config.momentum(), config.weightDecay(), model.manager())) {
            for (int epoch = 0; epoch < config.epochs(); epoch++) {
                long start = System.nanoTime();
                double lr = schedule.at(epoch);
                int e = epoch;
                double meanLoss = batches.epoch(model, data, random, hooks, () -> sgd.step(lr),
                        (step, steps, loss) -> listener.onStep(e, config.epochs(), step, steps, loss));
                Epoch done = new Epoch(epoch + 1, lr, meanLoss, (System.nanoTime() - start) / 1e9);
                history.add(done);
                listener.onEpoch(done, config.epochs());
            }
        }
        return history;
    }

    /** The label an image is trained towards; SEAM's forget phase draws a random one. */
    public interface Relabel {
        Relabel TRUE = (label, random) -> label;

        int label(int trueLabel, Random random);
    }

    /** Receives the running mean loss after each of an epoch's {@code steps} batches. */
    public interface BatchListener {
        BatchListener NONE = (step, steps, runningLoss) -> {};

        void onBatch(int step, int steps, double runningLoss);
    }

    /**
     * One epoch's mini-batches: a shuffled pass over a dataset, each batch augmented and relabelled,
     * then cross-entropy forward and backward in train mode, then the caller's optimizer update.
     */
    public record Batches(int batchSize, boolean dropLast, Augmentation augmentation, Relabel relabel) {
        public Batches {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
        }

        /** Runs one epoch and returns its mean loss; {@code update} runs after every backward pass. */
        public double epoch(Classifier model, ImageDataset data, Random random, Hooks hooks, Runnable update,
                BatchListener listener) {
            int n = data.size();
            if (n == 0 || (dropLast && n < batchSize)) {
                throw new IllegalArgumentException("training set has " + n + " images, fewer than one batch of "
                        + batchSize);
            }
            int size = data.imageSize();
            int steps = dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
            int[] order = shuffled(n, random);
            double lossSum = 0;
            for (int step = 0; step < steps; step++) {
                int from = step * batchSize;
                int count = Math.min(batchSize, n - from);
                float[] pixels = new float[count * size];
                float[] labels = new float[count];
                for (int i = 0; i < count; i++) {
                    int item = order[from + i];
                    augmentation.apply(data.pixels(), item * size, pixels, i * size, data.channels(), data.height(),
                            data.width(), random);
                    labels[i] = relabel.label(data.labels()[item], random);
                }
                lossSum += step(model, pixels, labels, count, data, hooks);
                update.run();
                hooks.afterStep();
                listener.onBatch(step + 1, steps, lossSum / (step + 1));
            }
            return lossSum / steps;
        }
    }

    static double step(Classifier model, float[] pixels, float[] labels, int count, ImageDataset data) {
        return step(model, pixels, labels, count, data, Hooks.NONE);
    }

    static double step(Classifier model, float[] pixels, float[] labels, int count, ImageDataset data, Hooks hooks) {
        try (NDManager scope = model.manager().newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray x = scope.create(pixels, new Shape(count, data.channels(), data.height(), data.width()));
            NDArray y = scope.create(labels);
            NDArray loss = Losses.crossEntropy(model.forward(x, true), y);
            NDArray extra = hooks.extraLoss(scope);
            if (extra != null) {
                loss = loss.add(extra);
            }
            collector.backward(loss);
            float value = loss.getFloat();
            if (!Float.isFinite(value)) {
                throw new IllegalStateException("training diverged: loss is " + value
                        + " (try a lower learning rate)");
            }
            return value;
        }
    }

    private static int[] shuffled(int n, Random random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
