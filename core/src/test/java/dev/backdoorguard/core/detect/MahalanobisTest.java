package dev.backdoorguard.core.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fit (mean, shrunk covariance, its inverse) and the score of {@link Mahalanobis}. */
class MahalanobisTest {

    private static List<double[]> correlated(int n, int p, long seed) {
        Random random = new Random(seed);
        List<double[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double shared = random.nextGaussian();
            double[] v = new double[p];
            for (int j = 0; j < p; j++) {
                v[j] = 0.9 + 0.01 * j + 0.02 * shared + 0.01 * (j + 1) * random.nextGaussian();
            }
            out.add(v);
        }
        return out;
    }

    @Test
    void withoutShrinkageTheMeanSquaredDistanceOfTheFittedVectorsIsTheirDimension() {
        // For the population covariance Σ, (1/n) Σ_i (v_i − m)ᵀ Σ⁻¹ (v_i − m) = tr(Σ⁻¹Σ) = p exactly:
        // a check of the mean, the covariance and the inverse together.
        List<double[]> vectors = correlated(60, 5, 1);
        Mahalanobis m = Mahalanobis.fit(vectors, 0);
        double sum = 0;
        for (double[] v : vectors) {
            sum += -m.score(v);
        }
        assertThat(sum / vectors.size()).isCloseTo(5.0, within(1e-8));
        assertThat(m.score(m.mean())).isZero();
    }

    @Test
    void thePrecisionInvertsTheShrunkCovariance() {
        List<double[]> vectors = correlated(40, 4, 2);
        double lambda = Mahalanobis.SHRINKAGE;
        Mahalanobis m = Mahalanobis.fit(vectors, lambda);
        int p = 4;
        double[] mean = new double[p];
        for (double[] v : vectors) {
            for (int i = 0; i < p; i++) {
                mean[i] += v[i] / vectors.size();
            }
        }
        assertThat(m.mean()).containsExactly(mean, within(1e-12));
        double[][] shrunk = new double[p][p];
        for (double[] v : vectors) {
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    shrunk[i][j] += (v[i] - mean[i]) * (v[j] - mean[j]) / vectors.size() * (i == j ? 1 : 1 - lambda);
                }
            }
        }
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double product = 0;
                for (int k = 0; k < p; k++) {
                    product += m.precision()[i * p + k] * shrunk[k][j];
                }
                assertThat(product).as("(P·Σ')[%d][%d]", i, j).isCloseTo(i == j ? 1 : 0, within(1e-9));
            }
        }
    }

    @Test
    void aVectorFartherFromTheBenignOnesScoresLower() {
        Mahalanobis m = Mahalanobis.fit(correlated(50, 3, 3), Mahalanobis.SHRINKAGE);
        double[] near = m.mean().clone();
        near[1] -= 0.01;
        double[] far = m.mean().clone();
        far[1] -= 0.1;
        assertThat(m.score(near)).isNegative().isGreaterThan(m.score(far));
    }

    @Test
    void aTapWithoutSpreadIsNamedByItsPosition() {
        List<double[]> vectors = new ArrayList<>();
        for (double[] v : correlated(10, 3, 4)) {
            v[2] = 0.5;
            vectors.add(v);
        }
        assertThatThrownBy(() -> Mahalanobis.fit(vectors, Mahalanobis.SHRINKAGE))
                .isInstanceOfSatisfying(Mahalanobis.ZeroVarianceException.class,
                        e -> assertThat(e.position()).isEqualTo(2));
    }

    @Test
    void badShapesAndArgumentsAreRefused() {
        assertThatThrownBy(() -> new Mahalanobis(new double[2], new double[3]))
                .hasMessageContaining("needs 4 values, got 3");
        assertThatThrownBy(() -> new Mahalanobis(new double[] {0.5, Double.NaN}, new double[4]))
                .hasMessageContaining("non-finite value NaN");
        assertThatThrownBy(() -> new Mahalanobis(new double[2], new double[] {1, 0, 0, Double.POSITIVE_INFINITY}))
                .hasMessageContaining("precision matrix holds a non-finite value Infinity");
        assertThatThrownBy(() -> Mahalanobis.fit(correlated(1, 2, 5), 0.2)).hasMessageContaining("at least 2");
        assertThatThrownBy(() -> Mahalanobis.fit(correlated(5, 2, 5), 1.5)).hasMessageContaining("[0, 1]");
    }
}
