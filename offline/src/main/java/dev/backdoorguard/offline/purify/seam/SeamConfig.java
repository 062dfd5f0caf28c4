package dev.backdoorguard.offline.purify.seam;

import dev.backdoorguard.core.data.Augmentation;
import java.util.List;

/**
 * SEAM's settings (specs/dhbe-seam.md §B.4, the official CIFAR column as the faithful default, with
 * the stop rules on a held-out share of the defender's data instead of the test set).
 *
 * @param forgetFraction size of the class-balanced forget set as a share of the whole training split (0.1%)
 * @param holdoutFraction share of the defender's clean data held out for both stop rules, never trained on
 * @param forgetLr the forget phase's Adam learning rate (3e-5)
 * @param forgetLadder the rates tried next, in order, when a forget attempt hits {@code maxEpochs}
 *     without falling below {@code forgetBelow}; each attempt restarts from the suspect weights
 * @param forgetBelow held-out accuracy that ends the forget phase (NaN: 2/K)
 * @param recoverTarget absolute held-out accuracy the patience rule counts towards (NaN: relative)
 * @param recoverTargetRatio the relative target, a share of the pre-SEAM held-out accuracy (0.98)
 * @param patience epochs counted by the recover stop rule (10)
 * @param plateauAfter recover epoch index after which an accuracy below the best − 1e-3 also counts (50)
 * @param maxEpochs cap of every forget attempt and of the recover phase (300)
 * @param withReplacement draw the recovery and forget sets as the reference does (independently, with
 *     replacement, so they may overlap and repeat images); the held-out set stays disjoint either way
 */
public record SeamConfig(
        double forgetFraction, double holdoutFraction, int batchSize, double forgetLr, List<Double> forgetLadder,
        double forgetWeightDecay, double forgetBelow, LabelSampling labels, double recoverLr,
        double recoverWeightDecay, double recoverBeta1, double recoverBeta2, double recoverTarget,
        double recoverTargetRatio, int patience, int plateauAfter, int maxEpochs, Augmentation augmentation,
        boolean allowUnconverged, boolean withReplacement, long seed) {

    /** The forget optimiser's betas: torch.optim.Adam's defaults, as the official code leaves them. */
    public static final double FORGET_BETA1 = 0.9;
    public static final double FORGET_BETA2 = 0.999;

    public SeamConfig {
        requireOpenUnit("--forget-fraction", forgetFraction, true);
        requireOpenUnit("--holdout-fraction", holdoutFraction, false);
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        requirePositive("--forget-lr", forgetLr);
        forgetLadder = List.copyOf(forgetLadder);
        for (double lr : forgetLadder) {
            requirePositive("--forget-lr-ladder", lr);
        }
        requireNonNegative("--forget-weight-decay", forgetWeightDecay);
        if (!Double.isNaN(forgetBelow) && !(forgetBelow > 0 && forgetBelow <= 1)) {
            throw new IllegalArgumentException("--forget-below must be in (0, 1], got " + forgetBelow);
        }
        requirePositive("--recover-lr", recoverLr);
        requireNonNegative("--recover-weight-decay", recoverWeightDecay);
        if (!(recoverBeta1 >= 0 && recoverBeta1 < 1) || !(recoverBeta2 >= 0 && recoverBeta2 < 1)) {
            throw new IllegalArgumentException("--recover-betas must both be in [0, 1), got " + recoverBeta1 + ","
                    + recoverBeta2);
        }
        if (!Double.isNaN(recoverTarget) && !(recoverTarget > 0 && recoverTarget <= 1)) {
            throw new IllegalArgumentException("--recover-target must be in (0, 1], got " + recoverTarget);
        }
        if (!(recoverTargetRatio > 0 && recoverTargetRatio <= 1)) {
            throw new IllegalArgumentException("--recover-target-ratio must be in (0, 1], got " + recoverTargetRatio);
        }
        if (patience < 1) {
            throw new IllegalArgumentException("--patience must be >= 1, got " + patience);
        }
        if (plateauAfter < 0) {
            throw new IllegalArgumentException("--plateau-after must be >= 0, got " + plateauAfter);
        }
        if (maxEpochs < 1) {
            throw new IllegalArgumentException("--max-epochs must be >= 1, got " + maxEpochs);
        }
    }

    /** The reference settings with the documented escalation ladder 3e-4, 1e-3 (specs §B.12). */
    public static SeamConfig defaults(long seed) {
        return new SeamConfig(0.001, 0.15, 32, 3e-5, List.of(3e-4, 1e-3), 5e-5, Double.NaN,
                LabelSampling.EXCLUDE_TRUE, 5e-4, 5e-5, 0.5, 0.9, Double.NaN, 0.98, 10, 50, 300,
                new Augmentation(2, false), false, false, seed);
    }

    /** The forget threshold for K classes: the option, or twice chance. */
    public double forgetThreshold(int numClasses) {
        return Double.isNaN(forgetBelow) ? 2.0 / numClasses : forgetBelow;
    }

    /** The recover target given the pre-SEAM held-out accuracy. */
    public double recoverThreshold(double preSeamAccuracy) {
        return Double.isNaN(recoverTarget) ? recoverTargetRatio * preSeamAccuracy : recoverTarget;
    }

    private static void requireOpenUnit(String option, double v, boolean allowOne) {
        if (!(v > 0 && (allowOne ? v <= 1 : v < 1))) {
            throw new IllegalArgumentException(option + " must be in (0, 1" + (allowOne ? "]" : ")") + ", got " + v);
        }
    }

    private static void requirePositive(String option, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(option + " must be finite and > 0, got " + v);
        }
    }

    private static void requireNonNegative(String option, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(option + " must be finite and >= 0, got " + v);
        }
    }
}
