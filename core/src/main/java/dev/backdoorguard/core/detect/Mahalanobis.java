package dev.backdoorguard.core.detect;

import java.util.List;

/**
 * One class's terms of the {@link ScoreRule#MAHALANOBIS} score: the mean m and precision matrix P
 * (row-major, p×p) of the benign vectors v of cosines to the class centroids at its p candidate taps,
 * so that s(v) = −(v − m)ᵀ P (v − m): 0 at the benign mean, lower the less the input's layers look
 * like the class's benign images together.
 *
 * @param mean      m, length p
 * @param precision P = Σ'⁻¹, length p·p
 */
public record Mahalanobis(double[] mean, double[] precision) {
    /**
     * The share of the covariance replaced by its diagonal before inversion. With about a hundred
     * reference images per class and neighbouring taps whose cosines are strongly correlated, the
     * plain sample covariance is near singular and over-trusts directions seen in few images; the
     * mix keeps every variance and damps the cross terms. 0.2 was not tuned (docs/BENCHMARKS.md §4
     * measured the rule with it).
     */
    public static final double SHRINKAGE = 0.2;

    public Mahalanobis {
        if (precision.length != mean.length * mean.length) {
            throw new IllegalArgumentException("a precision matrix for " + mean.length + " taps needs "
                    + mean.length * mean.length + " values, got " + precision.length);
        }
        // A NaN here would make every score NaN, and NaN is never below a threshold: nothing flagged.
        for (double v : mean) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("the Mahalanobis mean holds a non-finite value " + v);
            }
        }
        for (double v : precision) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("the Mahalanobis precision matrix holds a non-finite value " + v);
            }
        }
    }

    /** The number of taps p. */
    public int size() {
        return mean.length;
    }

    /** s(v) = −(v − m)ᵀ P (v − m). */
    public double score(double[] cosines) {
        int p = mean.length;
        double quadratic = 0;
        for (int i = 0; i < p; i++) {
            double di = cosines[i] - mean[i];
            double row = 0;
            for (int j = 0; j < p; j++) {
                row += precision[i * p + j] * (cosines[j] - mean[j]);
            }
            quadratic += di * row;
        }
        return -quadratic;
    }

    /**
     * Fits m and P to benign vectors (each of length p): the mean, the population covariance Σ, the
     * shrunk Σ' = (1 − λ)·Σ + λ·diag(Σ) and its inverse. Fails naming the position of a tap whose
     * cosines do not vary (Σ' is then singular).
     *
     * @param shrinkage λ in [0, 1]
     */
    public static Mahalanobis fit(List<double[]> vectors, double shrinkage) {
        if (vectors.size() < 2) {
            throw new IllegalArgumentException("need at least 2 benign vectors, got " + vectors.size());
        }
        if (!(shrinkage >= 0 && shrinkage <= 1)) {
            throw new IllegalArgumentException("shrinkage must be in [0, 1], got " + shrinkage);
        }
        int p = vectors.get(0).length;
        double[] mean = new double[p];
        for (double[] v : vectors) {
            for (int i = 0; i < p; i++) {
                mean[i] += v[i];
            }
        }
        for (int i = 0; i < p; i++) {
            mean[i] /= vectors.size();
        }
        double[] cov = new double[p * p];
        for (double[] v : vectors) {
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    cov[i * p + j] += (v[i] - mean[i]) * (v[j] - mean[j]);
                }
            }
        }
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                cov[i * p + j] *= (i == j ? 1 : 1 - shrinkage) / vectors.size();
            }
            if (!(cov[i * p + i] > 0)) {
                throw new ZeroVarianceException(i);
            }
        }
        return new Mahalanobis(mean, invertSymmetricPositive(cov, p));
    }

    /** Thrown by {@link #fit} when the cosines at one tap position have no spread. */
    public static final class ZeroVarianceException extends IllegalArgumentException {
        private final int position;

        ZeroVarianceException(int position) {
            super("the benign cosines at candidate position " + position + " do not vary");
            this.position = position;
        }

        /** The position of the offending tap within the candidate vector. */
        public int position() {
            return position;
        }
    }

    /** The inverse of a symmetric positive-definite p×p matrix, by Cholesky factorisation A = L·Lᵀ. */
    private static double[] invertSymmetricPositive(double[] a, int p) {
        double[] l = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i * p + j];
                for (int k = 0; k < j; k++) {
                    s -= l[i * p + k] * l[j * p + k];
                }
                if (i == j) {
                    if (!(s > 0)) {
                        throw new IllegalArgumentException("the benign covariance is not positive definite");
                    }
                    l[i * p + i] = Math.sqrt(s);
                } else {
                    l[i * p + j] = s / l[j * p + j];
                }
            }
        }
        // A⁻¹ = L⁻ᵀ·L⁻¹: invert the lower-triangular L column by column, then multiply.
        double[] inv = new double[p * p];
        for (int col = 0; col < p; col++) {
            for (int i = col; i < p; i++) {
                double s = i == col ? 1 : 0;
                for (int k = col; k < i; k++) {
                    s -= l[i * p + k] * inv[k * p + col];
                }
                inv[i * p + col] = s / l[i * p + i];
            }
        }
        double[] out = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double s = 0;
                for (int k = Math.max(i, j); k < p; k++) {
                    s += inv[k * p + i] * inv[k * p + j];
                }
                out[i * p + j] = s;
            }
        }
        return out;
    }
}
