package dev.backdoorguard.core.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.bundle.FloatFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The batched scorer, by both of its paths (engine products for large batches, heap views for small
 * ones), against the heap reference {@link DetectorCalibration#score} on the §12 vectors, zero rows
 * included.
 */
class CriticalLayerDetectorTest {

    @ParameterizedTest(name = "on the heap: {0}")
    @ValueSource(booleans = {false, true})
    void scoresMatchTheReferenceInEveryModeAndRuleAndZeroRowsHaveZeroCosines(boolean onHeap) throws Exception {
        List<Object[]> cases = new java.util.ArrayList<>();
        for (WeightMode mode : WeightMode.values()) {
            cases.add(new Object[] {mode, ScoreRule.COSINE_SUM});
        }
        cases.add(new Object[] {WeightMode.UNWEIGHTED, ScoreRule.MAHALANOBIS});
        for (Object[] testCase : cases) {
            WeightMode mode = (WeightMode) testCase[0];
            ScoreRule rule = (ScoreRule) testCase[1];
            DetectorCalibration cal = new CriticalLayerCalibration(GoldenVectors.TAPS, 2, mode, rule,
                    ThresholdRule.gaussian(2.5), FloatFormat.F32).calibrate(GoldenVectors.source(GoldenVectors.BUMPS));
            try (NDManager model = NDManager.newBaseManager()) {
                CriticalLayerDetector detector = new CriticalLayerDetector(cal, model);
                assertThat(detector.taps()).containsExactly("t1", "t2", "t3");
                model.cap();
                // Rows: every golden sample scored against both classes, plus an all-zero sample.
                int n = 17;
                float[][] taps = new float[5][n * 3];
                long[] predicted = new long[n];
                double[] expected = new double[n];
                for (int row = 0; row < 16; row++) {
                    int c = row / 8;
                    int i = row % 4;
                    int asClass = (row / 4) % 2;
                    float[][] sample = GoldenVectors.sample(GoldenVectors.BUMPS, c, i);
                    for (int l = 0; l < 5; l++) {
                        System.arraycopy(sample[l], 0, taps[l], row * 3, 3);
                    }
                    predicted[row] = asClass;
                    expected[row] = cal.score(asClass, sample);
                }
                predicted[16] = 1;
                // All cosines 0: a cosine sum of 0, a Mahalanobis score of −mᵀPm.
                expected[16] = cal.classes().get(1).score(new double[3]);
                int[] predictedClasses = java.util.Arrays.stream(predicted).mapToInt(Math::toIntExact).toArray();
                try (NDManager scope = model.newSubManager()) {
                    CriticalLayerDetector.Batch batch = detector.newBatch(n, onHeap);
                    for (int l = 0; l < 5; l++) {
                        batch.offer(GoldenVectors.TAPS.get(l), scope.create(taps[l], new Shape(n, 3)));
                    }
                    CriticalLayerDetector.Scores scores = batch.finish(predictedClasses);
                    for (int row = 0; row < n; row++) {
                        // float32 cosines: their ~1e-7 errors are magnified by P under the Mahalanobis
                        // rule, and the score is a float: compare on the scale of the class's benign
                        // score spread and of the score's own float resolution.
                        double std = cal.classes().get((int) predicted[row]).std();
                        assertThat((double) scores.scores()[row]).as(mode + " " + rule + " row " + row)
                                .isCloseTo(expected[row], within(Math.max(Math.max(1e-5, 1e-3 * std),
                                        1e-6 * Math.abs(expected[row]))));
                    }
                    assertThat(scores.cosines()).hasSize(n * 3);
                    for (int u = 0; u < 3; u++) {
                        assertThat(scores.cosine(16, u)).isZero();
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "on the heap: {0}")
    @ValueSource(booleans = {false, true})
    void classesWithDifferentCandidateTapsReadTheirOwnTapsAndWeights(boolean onHeap) throws Exception {
        // Class 0 scores t1..t3, class 1 t2..logits, with unequal weights: the used taps are t1..logits
        // (slots 0..3), and class 1's candidate j sits in slot j+1, not slot j.
        DetectorCalibration golden = goldenCalibration();
        List<ClassStatistics> classes = new java.util.ArrayList<>();
        int[][] candidates = {{1, 2, 3}, {2, 3, 4}};
        double[][] weights = {{0.5, 1.0, 2.0}, {3.0, 0.25, 1.5}};
        for (int c = 0; c < 2; c++) {
            ClassStatistics g = golden.classes().get(c);
            float[][] centroids = new float[3][];
            for (int j = 0; j < 3; j++) {
                centroids[j] = new float[3];
                for (int i = 0; i < 4; i++) {
                    float[] f = GoldenVectors.sample(GoldenVectors.BUMPS, c, i)[candidates[c][j]];
                    for (int d = 0; d < 3; d++) {
                        centroids[j][d] += f[d] / 4;
                    }
                }
            }
            classes.add(new ClassStatistics(c, candidates[c][2], candidates[c], weights[c], centroids, g.mean(),
                    g.std(), g.threshold(), 4, 4, g.similarity(), g.delta(), null));
        }
        DetectorCalibration cal = new DetectorCalibration(golden.taps(), golden.dims(), WeightMode.PER_CLASS,
                ScoreRule.COSINE_SUM, golden.rule(), classes, List.of(), FloatFormat.F32);
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector detector = new CriticalLayerDetector(cal, model);
            assertThat(detector.taps()).containsExactly("t1", "t2", "t3", "logits");
            int n = 16;
            float[][] taps = new float[5][n * 3];
            int[] predicted = new int[n];
            double[] expected = new double[n];
            for (int row = 0; row < n; row++) {
                float[][] sample = GoldenVectors.sample(GoldenVectors.BUMPS, row / 8, row % 4);
                for (int l = 0; l < 5; l++) {
                    System.arraycopy(sample[l], 0, taps[l], row * 3, 3);
                }
                predicted[row] = (row / 4) % 2;
                expected[row] = cal.score(predicted[row], sample);
            }
            CriticalLayerDetector.Batch batch = detector.newBatch(n, onHeap);
            for (int l = 0; l < 5; l++) {
                batch.offer(GoldenVectors.TAPS.get(l), scope.create(taps[l], new Shape(n, 3)));
            }
            float[] scores = batch.finish(predicted).scores();
            for (int row = 0; row < n; row++) {
                assertThat((double) scores[row]).as("row " + row).isCloseTo(expected[row], within(1e-5));
            }
        }
    }

    @ParameterizedTest(name = "on the heap: {0}")
    @ValueSource(booleans = {false, true})
    void aNaNFeatureRowGivesANaNScoreNotAZeroCosine(boolean onHeap) throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch =
                    new CriticalLayerDetector(goldenCalibration(), model).newBatch(1, onHeap);
            for (String tap : List.of("t1", "t2", "t3")) {
                batch.offer(tap, scope.create(new float[] {Float.NaN, 1, 1}, new Shape(1, 3)));
            }
            assertThat(batch.finish(new int[] {0}).scores()[0]).isNaN();
        }
    }

    @ParameterizedTest(name = "on the heap: {0}")
    @ValueSource(booleans = {false, true})
    void aTapTheForwardPassDidNotOfferIsNamed(boolean onHeap) throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch =
                    new CriticalLayerDetector(goldenCalibration(), model).newBatch(1, onHeap);
            batch.offer("t1", scope.create(new float[] {1, 2, 3}, new Shape(1, 3)));
            batch.offer("t3", scope.create(new float[] {1, 2, 3}, new Shape(1, 3)));
            assertThatThrownBy(() -> batch.finish(new int[] {0}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'t2'");
            assertThatThrownBy(() -> batch.finish(new int[] {0, 1}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected 1 predictions");
        }
    }

    @Test
    void onTheHeapATapOfTheWrongWidthIsNamed() throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch =
                    new CriticalLayerDetector(goldenCalibration(), model).newBatch(1, true);
            assertThatThrownBy(() -> batch.offer("t2", scope.create(new float[] {1, 2, 3, 4}, new Shape(1, 4))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'t2' has 4 values, expected 3");
        }
    }

    /** A transposed view is not contiguous: DJL hands out a contiguous copy, owned by the same scope. */
    @Test
    void onTheHeapANonContiguousTapIsReadInItsLogicalOrder() throws Exception {
        DetectorCalibration cal = goldenCalibration();
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector detector = new CriticalLayerDetector(cal, model);
            float[][][] samples = {GoldenVectors.sample(GoldenVectors.BUMPS, 1, 2),
                GoldenVectors.sample(GoldenVectors.BUMPS, 0, 1)};
            CriticalLayerDetector.Batch heap = detector.newBatch(2, true);
            for (int l = 0; l < 5; l++) {
                // [2, 3] stored as the transpose of a contiguous [3, 2]: element (d, i) is sample i's value d
                float[] columnMajor = new float[6];
                for (int d = 0; d < 3; d++) {
                    for (int i = 0; i < 2; i++) {
                        columnMajor[d * 2 + i] = samples[i][l][d];
                    }
                }
                NDArray tap = scope.create(columnMajor, new Shape(3, 2)).transpose();
                assertThat(tap.getShape()).isEqualTo(new Shape(2, 3));
                heap.offer(GoldenVectors.TAPS.get(l), tap);
            }
            float[] scores = heap.finish(new int[] {1, 0}).scores();
            assertThat((double) scores[0]).isCloseTo(cal.score(1, samples[0]), within(1e-5));
            assertThat((double) scores[1]).isCloseTo(cal.score(0, samples[1]), within(1e-5));
        }
    }

    @Test
    void onTheHeapATapThatIsNotFloat32IsRefused() throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch =
                    new CriticalLayerDetector(goldenCalibration(), model).newBatch(1, true);
            assertThatThrownBy(() -> batch.offer("t1", scope.create(new double[] {1, 2, 3}, new Shape(1, 3))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'t1' is float64");
        }
    }

    @Test
    void withThePlainKernelSmallBatchesAreScoredOnTheHeapAndLargeOnesOnTheEngine() {
        int limit = CriticalLayerDetector.HEAP_SCORING_MAX_BATCH;
        assertThat(CriticalLayerDetector.scoresOnHeap(1, false, false)).isTrue();
        assertThat(CriticalLayerDetector.scoresOnHeap(limit, false, false)).isTrue();
        assertThat(CriticalLayerDetector.scoresOnHeap(limit + 1, false, false)).isFalse();
    }

    @Test
    void withTheSimdKernelEveryBatchOnTheCpuIsScoredOnTheHeap() throws Exception {
        int limit = CriticalLayerDetector.HEAP_SCORING_MAX_BATCH;
        assertThat(CriticalLayerDetector.scoresOnHeap(4096, true, false)).isTrue();
        // On a GPU the heap path copies the taps to the host: only small batches go there.
        assertThat(CriticalLayerDetector.scoresOnHeap(limit, true, true)).isTrue();
        assertThat(CriticalLayerDetector.scoresOnHeap(limit + 1, true, true)).isFalse();
        try (NDManager model = NDManager.newBaseManager()) {
            // The test JVM has the SIMD kernel, as guard serve does (UnitCosineTest checks that).
            assertThat(new CriticalLayerDetector(goldenCalibration(), model).newBatch(4096).onHeap()).isTrue();
        }
    }

    private static DetectorCalibration goldenCalibration() throws Exception {
        return new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.values()[0], ThresholdRule.gaussian(2.5))
                .calibrate(GoldenVectors.source(GoldenVectors.BUMPS));
    }
}
