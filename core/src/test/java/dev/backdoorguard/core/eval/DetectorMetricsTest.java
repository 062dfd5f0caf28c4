package dev.backdoorguard.core.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class DetectorMetricsTest {
    @Test
    void aurocCountsPairsWithTiesAsOneHalf() {
        assertThat(DetectorMetrics.auroc(new float[] {3, 4}, new float[] {1, 2})).isEqualTo(1.0);
        assertThat(DetectorMetrics.auroc(new float[] {1, 2}, new float[] {3, 4})).isEqualTo(0.0);
        // pairs: (2 vs 1) win, (2 vs 2) tie, (2 vs 3) loss, (5 vs all) 3 wins -> (1 + 0.5 + 3) / 6
        assertThat(DetectorMetrics.auroc(new float[] {2, 5}, new float[] {1, 2, 3})).isCloseTo(4.5 / 6, within(1e-12));
        assertThat(DetectorMetrics.auroc(new float[] {}, new float[] {1})).isNaN();
    }

    @Test
    void ratesAreCountedOverTheRightDenominators() {
        DetectorMetrics m = DetectorMetrics.of(new float[] {0, 1, 5, 0}, new boolean[] {false, false, true, false},
                new int[] {0, 1, 1, 0}, new int[] {0, 1, 0, 0}, new float[] {6, 0.5f}, new boolean[] {true, false}, 2);
        assertThat(m.tpr()).isEqualTo(0.5);
        assertThat(m.fpr()).isEqualTo(0.25);
        assertThat(m.misclassifiedFlagged()).isEqualTo(1);
        assertThat(m.misclassifiedTotal()).isEqualTo(1);
        assertThat(m.classFlagRates()).containsExactly(0.0, 0.5);
        assertThat(m.classTotals()).containsExactly(2, 2);
        // positives 6, 0.5 vs negatives 0, 1, 5, 0: 6 beats 4, 0.5 beats 2 -> 6/8
        assertThat(m.auroc()).isEqualTo(0.75);
    }
}
