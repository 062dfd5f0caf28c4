package dev.backdoorguard.offline.purify.seam;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The reference's recover rule: patience spent above the target, or on a plateau after epoch 50. */
class RecoveryStopTest {
    @Test
    void stopsAfterPatienceEpochsAboveTheTarget() {
        RecoveryStop stop = new RecoveryStop(0.9, 3, 50);
        assertThat(stop.update(0, 0.5)).isFalse();
        assertThat(stop.update(1, 0.91)).isFalse();
        assertThat(stop.update(2, 0.89)).isFalse(); // below the target again: not counted, not reset
        assertThat(stop.update(3, 0.92)).isFalse();
        assertThat(stop.patience()).isEqualTo(1);
        assertThat(stop.update(4, 0.95)).isTrue();
        assertThat(stop.reason()).contains("above the target");
    }

    @Test
    void accuracyEqualToTheTargetDoesNotCount() {
        RecoveryStop stop = new RecoveryStop(0.9, 1, 50);
        assertThat(stop.update(0, 0.9)).isFalse();
        assertThat(stop.update(1, 0.9001)).isTrue();
    }

    @Test
    void plateauCountsOnlyAfterPlateauAfterAndBelowTheBestByMoreThanTheTolerance() {
        RecoveryStop stop = new RecoveryStop(0.99, 2, 5);
        assertThat(stop.update(0, 0.80)).isFalse();
        for (int e = 1; e <= 5; e++) {
            assertThat(stop.update(e, 0.70)).as("epoch %d is not after 5", e).isFalse();
        }
        assertThat(stop.patience()).isEqualTo(2);
        assertThat(stop.update(6, 0.7995)).isFalse(); // within 1e-3 of the best: no plateau
        assertThat(stop.patience()).isEqualTo(2);
        assertThat(stop.update(7, 0.79)).isFalse();
        assertThat(stop.update(8, 0.81)).isFalse(); // a new best is not a plateau
        assertThat(stop.update(9, 0.80)).isTrue();
        assertThat(stop.reason()).contains("plateau");
    }
}
