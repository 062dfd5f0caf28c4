package dev.backdoorguard.offline.purify.seam;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.offline.train.TrainingLoop;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LabelSamplingTest {
    private static final int K = 10;

    @Test
    void excludeTrueNeverDrawsTheTrueLabelAndCoversEveryOtherClassEvenly() {
        TrainingLoop.Relabel relabel = LabelSampling.EXCLUDE_TRUE.relabel(K);
        Random random = new Random(1);
        for (int y = 0; y < K; y++) {
            int[] counts = new int[K];
            for (int i = 0; i < 9000; i++) {
                counts[relabel.label(y, random)]++;
            }
            assertThat(counts[y]).as("draws of the true label %d", y).isZero();
            for (int c = 0; c < K; c++) {
                if (c != y) {
                    assertThat(counts[c]).as("label %d drawn for true %d", c, y).isBetween(850, 1150);
                }
            }
        }
    }

    @Test
    void includeTrueDrawsEveryClassTheTrueOneIncluded() {
        TrainingLoop.Relabel relabel = LabelSampling.INCLUDE_TRUE.relabel(K);
        Random random = new Random(2);
        int[] counts = new int[K];
        for (int i = 0; i < 10000; i++) {
            counts[relabel.label(3, random)]++;
        }
        for (int c = 0; c < K; c++) {
            assertThat(counts[c]).as("label %d", c).isBetween(850, 1150);
        }
    }

    @Test
    void labelsAreRedrawnEveryTimeAnImageIsBatched() {
        // The forget set is revisited every epoch: the same true labels must get fresh random labels each time.
        TrainingLoop.Relabel relabel = LabelSampling.EXCLUDE_TRUE.relabel(K);
        Random random = new Random(3);
        int[] truth = new int[60];
        for (int i = 0; i < truth.length; i++) {
            truth[i] = i % K;
        }
        int[] first = new int[truth.length];
        int changed = 0;
        for (int i = 0; i < truth.length; i++) {
            first[i] = relabel.label(truth[i], random);
        }
        for (int i = 0; i < truth.length; i++) {
            changed += relabel.label(truth[i], random) != first[i] ? 1 : 0;
        }
        // each redraw matches the previous one with probability 1/9: about 53 of 60 change
        assertThat(changed).isGreaterThan(40);
    }

    @Test
    void parsesTheCommandLineNamesAndRejectsOthers() {
        assertThat(LabelSampling.parse("exclude-true")).isEqualTo(LabelSampling.EXCLUDE_TRUE);
        assertThat(LabelSampling.parse("include-true")).isEqualTo(LabelSampling.INCLUDE_TRUE);
        assertThatThrownBy(() -> LabelSampling.parse("uniform")).hasMessageContaining("--random-labels");
        assertThatThrownBy(() -> LabelSampling.EXCLUDE_TRUE.relabel(1)).hasMessageContaining("at least 2 classes");
    }
}
