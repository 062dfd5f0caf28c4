package dev.backdoorguard.core.detect;

import java.util.Arrays;

/**
 * How a class threshold t_c is set from its benign reference scores: {@code gaussian} t = m − τ·σ
 * (the reference code, τ = 2.5 recommended) or {@code quantile}, the empirical {@code targetFpr}
 * quantile (spec §10: the Gaussian rule under-delivers on heavy benign tails). An input is flagged
 * iff its score is strictly below t.
 *
 * @param kind      which rule
 * @param tau       τ of the gaussian rule, NaN for quantile
 * @param targetFpr target false-positive rate of the quantile rule, NaN for gaussian
 */
public record ThresholdRule(Kind kind, double tau, double targetFpr) {
    public static final double DEFAULT_TAU = 2.5;

    /** The two rules, by their {@code detector.json} names. */
    public enum Kind {
        GAUSSIAN("gaussian"),
        QUANTILE("quantile");

        private final String id;

        Kind(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        static Kind parse(String id) {
            for (Kind k : values()) {
                if (k.id.equals(id)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown threshold rule '" + id + "' (expected gaussian or quantile)");
        }
    }

    public ThresholdRule {
        if (kind == Kind.GAUSSIAN && !(tau > 0 && Double.isFinite(tau))) {
            throw new IllegalArgumentException("tau must be a positive number, got " + tau);
        }
        if (kind == Kind.QUANTILE && !(targetFpr > 0 && targetFpr < 1)) {
            throw new IllegalArgumentException("the target FPR must be in (0, 1), got " + targetFpr);
        }
    }

    public static ThresholdRule gaussian(double tau) {
        return new ThresholdRule(Kind.GAUSSIAN, tau, Double.NaN);
    }

    public static ThresholdRule quantile(double targetFpr) {
        return new ThresholdRule(Kind.QUANTILE, Double.NaN, targetFpr);
    }

    /**
     * The threshold for one class. Quantile: with the n scores sorted, the k-th smallest (0-based)
     * for k = ⌊q·n⌋, so at most k reference scores lie strictly below it.
     */
    public double threshold(double[] referenceScores, double mean, double std) {
        if (kind == Kind.GAUSSIAN) {
            return mean - tau * std;
        }
        double[] sorted = referenceScores.clone();
        Arrays.sort(sorted);
        // The epsilon keeps q·n = 1.0000000000000002 style products from rounding a rank away.
        int k = (int) Math.floor(targetFpr * sorted.length + 1e-9);
        return sorted[Math.min(k, sorted.length - 1)];
    }

    /** A short human description: {@code mean - 2.5 std} or {@code 1% quantile}. */
    public String describe() {
        return kind == Kind.GAUSSIAN ? "mean - " + tau + " std" : (100 * targetFpr) + "% quantile";
    }
}
