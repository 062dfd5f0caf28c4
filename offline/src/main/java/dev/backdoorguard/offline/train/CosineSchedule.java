package dev.backdoorguard.offline.train;

/**
 * {@code CosineAnnealingLR(T_max, eta_min = 0)} stepped once per epoch, as the reference code steps
 * it: epoch e (from 0) trains with {@code lr0·(1 + cos(π·e/T))/2}.
 */
public record CosineSchedule(double initial, int periodEpochs) {
    public CosineSchedule {
        if (!(initial > 0) || Double.isInfinite(initial)) {
            throw new IllegalArgumentException("learning rate must be finite and > 0, got " + initial);
        }
        if (periodEpochs < 1) {
            throw new IllegalArgumentException("cosine period must be >= 1 epoch, got " + periodEpochs);
        }
    }

    public double at(int epoch) {
        return initial * (1 + Math.cos(Math.PI * epoch / periodEpochs)) / 2;
    }
}
