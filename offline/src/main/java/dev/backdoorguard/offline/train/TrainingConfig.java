package dev.backdoorguard.offline.train;

import dev.backdoorguard.core.data.Augmentation;

/**
 * Supervised training settings (specs/clp-fst.md §9.2): SGD with PyTorch's momentum rule, cosine
 * learning rate stepped per epoch over the actual epoch count, mini-batches with drop_last.
 */
public record TrainingConfig(
        int epochs, int batchSize, double learningRate, double momentum, double weightDecay, boolean dropLast,
        Augmentation augmentation, long seed) {

    /** Validates; the epoch and batch-size messages name the options that attack and purify fst share. */
    public TrainingConfig {
        if (epochs < 1) {
            throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        new CosineSchedule(learningRate, epochs); // validates the learning rate
    }

    /** The attack recipe: lr 0.1, momentum 0.9, wd 5e-4, batch 128, drop_last, pad-4 crop + flip. */
    public static TrainingConfig attackDefaults(int epochs, long seed) {
        return new TrainingConfig(epochs, 128, 0.1, 0.9, 5e-4, true, new Augmentation(4, true), seed);
    }
}
