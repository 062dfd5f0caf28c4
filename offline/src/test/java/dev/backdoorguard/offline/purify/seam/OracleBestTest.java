package dev.backdoorguard.offline.purify.seam;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.offline.purify.seam.SeamPurifier.EpochRecord;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The reference's oracle pick: the recovery epoch with the best test ACC − ASR, earliest on ties. */
class OracleBestTest {

    private static EpochRecord epoch(int e, double acc, double asr) {
        AttackMetrics m = new AttackMetrics(acc, asr, 0, 0, 0, 0, 0, 0, 0, 0);
        return new EpochRecord("recover", e, 5e-4, 0.1, 0.9, m);
    }

    @Test
    void picksTheLargestAccuracyMinusAttackSuccessNotTheLastOrTheMostAccurate() {
        List<EpochRecord> curve = List.of(epoch(1, 0.80, 0.50), epoch(2, 0.88, 0.05), epoch(3, 0.90, 0.20),
                epoch(4, 0.84, 0.03), epoch(5, 0.89, 0.08));
        assertThat(SeamPurifier.oracleBest(curve)).get().extracting(EpochRecord::epoch).isEqualTo(2);
    }

    @Test
    void theEarliestWinsATieAndAnUntrackedRunHasNoPick() {
        assertThat(SeamPurifier.oracleBest(List.of(epoch(1, 0.9, 0.1), epoch(2, 0.85, 0.05))))
                .get().extracting(EpochRecord::epoch).isEqualTo(1);
        assertThat(SeamPurifier.oracleBest(List.of(new EpochRecord("recover", 1, 5e-4, 0.1, 0.9, null)))).isEmpty();
    }
}
