package dev.backdoorguard.offline.purify.fst;

import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.offline.train.TrainingConfig;

/**
 * FST settings; defaults are the reference's (α 0.2, lr 0.01, 10 epochs, batch 128, SGD momentum 0.9,
 * no weight decay, cosine per epoch, drop_last = false, crop with padding 4).
 */
public record FstConfig(FstMode mode, double alpha, int epochs, int batchSize, double learningRate, Augmentation augmentation,
        long seed) {
    public FstConfig {
        if (!(alpha >= 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("--alpha must be finite and >= 0, got " + alpha);
        }
        training(epochs, batchSize, learningRate, augmentation, seed); // validates the rest
    }

    TrainingConfig training() {
        return training(epochs, batchSize, learningRate, augmentation, seed);
    }

    private static TrainingConfig training(int epochs, int batch, double lr, Augmentation aug, long seed) {
        return new TrainingConfig(epochs, batch, lr, 0.9, 0.0, false, aug, seed);
    }
}
