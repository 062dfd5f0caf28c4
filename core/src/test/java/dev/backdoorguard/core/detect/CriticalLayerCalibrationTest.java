package dev.backdoorguard.core.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The §12 golden vectors in every weight mode, the reference quirks, both threshold rules and bad input. */
class CriticalLayerCalibrationTest {
    private static final Offset<Double> E = within(2e-6);

    private static DetectorCalibration calibrate(int[] bumps, WeightMode mode, ThresholdRule rule) throws Exception {
        return new CriticalLayerCalibration(GoldenVectors.TAPS, 2, mode, rule).calibrate(GoldenVectors.source(bumps));
    }

    private static DetectorCalibration golden(WeightMode mode) throws Exception {
        return calibrate(GoldenVectors.BUMPS, mode, ThresholdRule.gaussian(2.5));
    }

    @Test
    void localisesTheCriticalLayerLikeTheReference() throws Exception {
        DetectorCalibration cal = golden(WeightMode.UNWEIGHTED);
        ClassStatistics c0 = cal.classes().get(0);
        ClassStatistics c1 = cal.classes().get(1);
        assertThat(c0.similarity()).containsExactly(new double[] {0.932397, 0.939842, 0.941566, 0.989728, 0.979779},
                within(1e-6));
        assertThat(c1.similarity()).containsExactly(new double[] {0.918541, 0.937429, 0.958399, 0.991534, 0.979924},
                within(1e-6));
        assertThat(c0.delta()).containsExactly(new double[] {0.007444, 0.001724, 0.048162, -0.009949}, within(1e-6));
        assertThat(c1.delta()).containsExactly(new double[] {0.018888, 0.020970, 0.033135, -0.011611}, within(1e-6));
        assertThat(c0.criticalLayer()).isEqualTo(3);
        assertThat(c1.criticalLayer()).isEqualTo(3);
        assertThat(c0.candidates()).containsExactly(1, 2, 3);
        assertThat(c1.candidates()).containsExactly(1, 2, 3);
        assertThat(c0.localisationSamples()).isEqualTo(4);
        assertThat(c0.referenceSamples()).isEqualTo(4);
        assertThat(cal.warnings()).isEmpty();
    }

    @Test
    void unweightedScoresThresholdsAndVerdictsMatchTheGoldenVector() throws Exception {
        DetectorCalibration cal = golden(WeightMode.UNWEIGHTED);
        ClassStatistics c0 = cal.classes().get(0);
        ClassStatistics c1 = cal.classes().get(1);
        assertThat(c0.weights()).containsExactly(1, 1, 1);
        double[] expected = {2.804409, 2.887367, 2.881112, 2.911656};
        for (int i = 0; i < 4; i++) {
            assertThat(cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 0, i))).isCloseTo(expected[i], E);
        }
        assertThat(c0.mean()).isCloseTo(2.871136, E);
        assertThat(c0.std()).isCloseTo(0.040179, E);
        assertThat(c0.threshold()).isCloseTo(2.770689, E);
        assertThat(c1.mean()).isCloseTo(2.887362, E);
        assertThat(c1.std()).isCloseTo(0.042802, E);
        assertThat(c1.threshold()).isCloseTo(2.780357, E);

        double own = cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 0, 0));
        assertThat(c0.isFlagged(own)).isFalse();
        double otherAs0 = cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 1, 0));
        assertThat(otherAs0).isCloseTo(2.200271, E);
        assertThat(c0.isFlagged(otherAs0)).isTrue();
        double zeroAs1 = cal.score(1, GoldenVectors.sample(GoldenVectors.BUMPS, 0, 0));
        assertThat(zeroAs1).isCloseTo(2.111882, E);
        assertThat(c1.isFlagged(zeroAs1)).isTrue();
        assertThat(c0.margin(otherAs0)).isCloseTo((2.871136 - 2.200271) / 0.040179, within(1e-3));
    }

    @Test
    void codeFaithfulModeReproducesTheReferenceQuirks() throws Exception {
        DetectorCalibration cal = golden(WeightMode.CODE_FAITHFUL);
        ClassStatistics c0 = cal.classes().get(0);
        // Quirk 1 and 2: every class takes class K-1's increases, leaving each layer (off by one).
        assertThat(c0.weights()).containsExactly(new double[] {0.020970, 0.033135, -0.011611}, within(1e-6));
        assertThat(cal.classes().get(1).weights()).containsExactly(c0.weights());
        double[] expected = {0.037423, 0.040624, 0.039214, 0.040402};
        for (int i = 0; i < 4; i++) {
            assertThat(cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 0, i))).isCloseTo(expected[i], E);
        }
        assertThat(c0.mean()).isCloseTo(0.039416, E);
        assertThat(c0.std()).isCloseTo(0.001269, E);
        assertThat(c0.threshold()).isCloseTo(0.036242, E);
        // The negative weight on l* inverts the test: an obviously off-class input passes.
        double otherAs0 = cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 1, 0));
        assertThat(otherAs0).isCloseTo(0.049133, E);
        assertThat(c0.isFlagged(otherAs0)).isFalse();
        assertThat(cal.warnings()).hasSize(2).allSatisfy(w -> assertThat(w).contains("negative weight", "'t3'"));
    }

    @Test
    void perClassModeWeightsEachClassByItsOwnIncreases() throws Exception {
        DetectorCalibration cal = golden(WeightMode.PER_CLASS);
        assertThat(cal.classes().get(0).weights())
                .containsExactly(new double[] {0.001724, 0.048162, -0.009949}, within(1e-6));
        assertThat(cal.classes().get(1).weights())
                .containsExactly(new double[] {0.020970, 0.033135, -0.011611}, within(1e-6));
        ClassStatistics c0 = cal.classes().get(0);
        double own = cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 0, 0));
        double expected = 0;
        float[][] f = GoldenVectors.sample(GoldenVectors.BUMPS, 0, 0);
        for (int j = 0; j < 3; j++) {
            expected += c0.weights()[j] * Cosine.of(f[1 + j], 0, c0.centroids()[j]);
        }
        assertThat(own).isCloseTo(expected, within(1e-12));
        assertThat(cal.warnings()).hasSize(2);
    }

    @Test
    void theCrashCaseFailsInWeightedModesAndCalibratesUnweighted() throws Exception {
        for (WeightMode mode : List.of(WeightMode.CODE_FAITHFUL, WeightMode.PER_CLASS)) {
            assertThatThrownBy(() -> calibrate(GoldenVectors.CRASH_BUMPS, mode, ThresholdRule.gaussian(2.5)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("class 0")
                    .hasMessageContaining("last tap 'logits'")
                    .hasMessageContaining("--weight-mode unweighted");
        }
        DetectorCalibration cal = calibrate(GoldenVectors.CRASH_BUMPS, WeightMode.UNWEIGHTED, ThresholdRule.gaussian(2.5));
        assertThat(cal.classes()).allSatisfy(c -> {
            assertThat(c.criticalLayer()).isEqualTo(4);
            assertThat(c.candidates()).containsExactly(2, 3, 4);
        });
    }

    @Test
    void theMahalanobisRuleScoresTheSameTapsForEveryClassAndFlagsAnOffClassInput() throws Exception {
        DetectorCalibration cal = new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.UNWEIGHTED,
                ScoreRule.MAHALANOBIS, ThresholdRule.gaussian(2.5), dev.backdoorguard.core.bundle.FloatFormat.F32)
                .calibrate(GoldenVectors.source(GoldenVectors.BUMPS));
        assertThat(cal.scoreRule()).isEqualTo(ScoreRule.MAHALANOBIS);
        for (ClassStatistics c : cal.classes()) {
            // L = 5, h = 2: the taps h−1 … L−2 = 1, 2, 3, whatever l* is (still localised, for the report).
            assertThat(c.candidates()).containsExactly(1, 2, 3);
            assertThat(c.criticalLayer()).isEqualTo(3);
            // The Mahalanobis terms are those of the class's own reference cosines, and the benign
            // statistics are those of its scores −d².
            List<double[]> vectors = new java.util.ArrayList<>();
            double[] scores = new double[4];
            for (int i = 0; i < 4; i++) {
                float[][] f = GoldenVectors.sample(GoldenVectors.BUMPS, c.classIndex(), i);
                double[] v = new double[3];
                for (int j = 0; j < 3; j++) {
                    v[j] = Cosine.of(f[1 + j], 0, c.centroids()[j]);
                }
                vectors.add(v);
            }
            Mahalanobis fitted = Mahalanobis.fit(vectors, Mahalanobis.SHRINKAGE);
            assertThat(c.mahalanobis().mean()).containsExactly(fitted.mean(), within(1e-12));
            assertThat(c.mahalanobis().precision()).containsExactly(fitted.precision(), within(1e-6));
            double mean = 0;
            for (int i = 0; i < 4; i++) {
                scores[i] = fitted.score(vectors.get(i));
                assertThat(cal.score(c.classIndex(), GoldenVectors.sample(GoldenVectors.BUMPS, c.classIndex(), i)))
                        .isCloseTo(scores[i], within(1e-9));
                mean += scores[i] / 4;
            }
            assertThat(c.mean()).isCloseTo(mean, within(1e-9));
        }
        ClassStatistics c0 = cal.classes().get(0);
        assertThat(c0.isFlagged(cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 0, 0)))).isFalse();
        assertThat(c0.isFlagged(cal.score(0, GoldenVectors.sample(GoldenVectors.BUMPS, 1, 0)))).isTrue();
    }

    @Test
    void theMahalanobisRuleTakesNoLayerWeights() {
        for (WeightMode mode : List.of(WeightMode.PER_CLASS, WeightMode.CODE_FAITHFUL)) {
            assertThatThrownBy(() -> new CriticalLayerCalibration(GoldenVectors.TAPS, 2, mode, ScoreRule.MAHALANOBIS,
                    ThresholdRule.gaussian(2.5), dev.backdoorguard.core.bundle.FloatFormat.F32))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("weight mode " + mode.id())
                    .hasMessageContaining("unweighted");
        }
    }

    @Test
    void theMahalanobisRuleNamesTheClassAndTapWhoseBenignCosinesDoNotVary() {
        // Class 0's four samples share one feature vector at tap t2, so their cosines to its centroid
        // are all 1: the covariance is singular there and no score can be fitted.
        FeatureSource flatAtT2 = consumer -> GoldenVectors.source(GoldenVectors.BUMPS).forEachBatch(b -> {
            for (int row = 0; row < 4; row++) {
                System.arraycopy(new float[] {1, 2, 3}, 0, b.features()[2], row * 3, 3);
            }
            consumer.accept(b);
        });
        assertThatThrownBy(() -> new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.UNWEIGHTED,
                ScoreRule.MAHALANOBIS, ThresholdRule.gaussian(2.5), dev.backdoorguard.core.bundle.FloatFormat.F32)
                .calibrate(flatAtT2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("class 0")
                .hasMessageContaining("tap 't2'")
                .hasMessageContaining("all equal")
                .hasMessageContaining("mahalanobis");
    }

    @Test
    void theQuantileRuleTakesTheEmpiricalQuantileOfTheReferenceScores() throws Exception {
        DetectorCalibration cal = calibrate(GoldenVectors.BUMPS, WeightMode.UNWEIGHTED, ThresholdRule.quantile(0.3));
        // floor(0.3 * 4) = 1: the second smallest of 2.804409, 2.881112, 2.887367, 2.911656.
        assertThat(cal.classes().get(0).threshold()).isCloseTo(2.881112, E);
        assertThat(cal.classes().get(0).isFlagged(2.804409)).isTrue();
        assertThat(cal.classes().get(0).isFlagged(2.881112)).isFalse();
        DetectorCalibration low = calibrate(GoldenVectors.BUMPS, WeightMode.UNWEIGHTED, ThresholdRule.quantile(0.01));
        assertThat(low.classes().get(0).threshold()).isCloseTo(2.804409, E);
    }

    @Test
    void theGaussianRuleIsStrict() throws Exception {
        ClassStatistics c0 = golden(WeightMode.UNWEIGHTED).classes().get(0);
        assertThat(c0.isFlagged(c0.threshold())).isFalse();
        assertThat(c0.isFlagged(Math.nextDown(c0.threshold()))).isTrue();
    }

    @Test
    void refusesBadInputNamingWhatIsWrong() {
        assertThatThrownBy(() -> ThresholdRule.gaussian(0)).hasMessageContaining("tau must be a positive");
        assertThatThrownBy(() -> ThresholdRule.gaussian(-1)).hasMessageContaining("tau");
        assertThatThrownBy(() -> ThresholdRule.quantile(1)).hasMessageContaining("(0, 1)");
        assertThatThrownBy(() -> ThresholdRule.quantile(0)).hasMessageContaining("(0, 1)");

        FeatureSource tooFew = c -> c.accept(new FeatureBatch(3, new int[] {0, 0, 1}, new int[] {0, 0, 1},
                new float[][] {new float[9], new float[9], new float[9], new float[9], new float[9]}));
        assertThatThrownBy(() -> new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.UNWEIGHTED,
                ThresholdRule.gaussian(2.5)).calibrate(tooFew)).hasMessageContaining("class 1 has 1");

        FeatureSource nan = consumer -> GoldenVectors.source(GoldenVectors.BUMPS).forEachBatch(b -> {
            b.features()[2][4] = Float.NaN;
            consumer.accept(b);
        });
        assertThatThrownBy(() -> new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.UNWEIGHTED,
                ThresholdRule.gaussian(2.5)).calibrate(nan)).hasMessageContaining("non-finite").hasMessageContaining("'t2'");

        // Identical samples: every benign score is the same, sigma = 0.
        float[][] same = new float[5][12];
        java.util.Arrays.stream(same).forEach(f -> java.util.Arrays.fill(f, 1f));
        FeatureSource constant = c -> c.accept(new FeatureBatch(4, new int[] {0, 0, 1, 1}, new int[] {0, 0, 1, 1}, same));
        assertThatThrownBy(() -> new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.UNWEIGHTED,
                ThresholdRule.gaussian(2.5)).calibrate(constant)).hasMessageContaining("sigma = 0")
                .hasMessageContaining("class 0");
    }
}
