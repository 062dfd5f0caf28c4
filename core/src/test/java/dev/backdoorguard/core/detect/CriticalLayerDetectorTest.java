package dev.backdoorguard.core.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The engine-side batched scorer against the heap reference on the §12 vectors, zero rows included. */
class CriticalLayerDetectorTest {

    @Test
    void engineScoresMatchTheHeapReferenceInEveryModeAndZeroRowsScoreZero() throws Exception {
        for (WeightMode mode : WeightMode.values()) {
            DetectorCalibration cal = new CriticalLayerCalibration(GoldenVectors.TAPS, 2, mode,
                    ThresholdRule.gaussian(2.5)).calibrate(GoldenVectors.source(GoldenVectors.BUMPS));
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
                expected[16] = 0;
                int[] predictedClasses = java.util.Arrays.stream(predicted).mapToInt(Math::toIntExact).toArray();
                try (NDManager scope = model.newSubManager()) {
                    CriticalLayerDetector.Batch batch = detector.newBatch(n);
                    for (int l = 0; l < 5; l++) {
                        batch.offer(GoldenVectors.TAPS.get(l), scope.create(taps[l], new Shape(n, 3)));
                    }
                    CriticalLayerDetector.Scores scores = batch.finish(predictedClasses);
                    for (int row = 0; row < n; row++) {
                        assertThat((double) scores.scores()[row]).as(mode + " row " + row)
                                .isCloseTo(expected[row], within(1e-5));
                    }
                    assertThat(scores.cosines()).hasSize(n * 3);
                    for (int u = 0; u < 3; u++) {
                        assertThat(scores.cosine(16, u)).isZero();
                    }
                }
            }
        }
    }

    @Test
    void aNaNFeatureRowGivesANaNScoreNotAZeroCosine() throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch = new CriticalLayerDetector(goldenCalibration(), model).newBatch(1);
            for (String tap : List.of("t1", "t2", "t3")) {
                batch.offer(tap, scope.create(new float[] {Float.NaN, 1, 1}, new Shape(1, 3)));
            }
            assertThat(batch.finish(new int[] {0}).scores()[0]).isNaN();
        }
    }

    @Test
    void aTapTheForwardPassDidNotOfferIsNamed() throws Exception {
        try (NDManager model = NDManager.newBaseManager(); NDManager scope = model.newSubManager()) {
            CriticalLayerDetector.Batch batch = new CriticalLayerDetector(goldenCalibration(), model).newBatch(1);
            batch.offer("t1", scope.create(new float[] {1, 2, 3}, new Shape(1, 3)));
            batch.offer("t3", scope.create(new float[] {1, 2, 3}, new Shape(1, 3)));
            assertThatThrownBy(() -> batch.finish(new int[] {0}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'t2'");
            assertThatThrownBy(() -> batch.finish(new int[] {0, 1}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected 1 predictions");
        }
    }

    private static DetectorCalibration goldenCalibration() throws Exception {
        return new CriticalLayerCalibration(GoldenVectors.TAPS, 2, WeightMode.values()[0], ThresholdRule.gaussian(2.5))
                .calibrate(GoldenVectors.source(GoldenVectors.BUMPS));
    }
}
