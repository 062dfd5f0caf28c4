package dev.backdoorguard.offline.purify.seam;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.offline.purify.PurificationData;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SeamSetsTest {
    /** A synthetic training split of 1,000 images (100 per class), each image's pixel = its index. */
    private static PurificationData cleanData(int perClass) {
        int n = 1000;
        int[] labels = IntStream.range(0, n).map(i -> i % 10).toArray();
        float[] pixels = new float[n];
        for (int i = 0; i < n; i++) {
            pixels[i] = i;
        }
        ImageDataset train = new ImageDataset(1, 1, 1, 10, pixels, labels);
        int[] idx = Subsets.classBalanced(labels, 10, perClass, 7).selected();
        return new PurificationData(train.subset(idx), idx, Subsets.indicesHash(idx), n);
    }

    @Test
    void heldOutRecoveryAndForgetSetsAreClassBalancedAndTheHeldOutSetIsDisjoint() {
        PurificationData data = cleanData(40);
        SeamSets sets = SeamSets.split(data, 0.25, 0.02, false, 1);
        assertThat(sets.holdout().classCounts()).containsOnly(10);
        assertThat(sets.recovery().classCounts()).containsOnly(30);
        assertThat(sets.forget().classCounts()).containsOnly(2);
        assertThat(Arrays.stream(sets.holdoutIndices()).filter(i -> contains(sets.recoveryIndices(), i))).isEmpty();
        assertThat(Arrays.stream(sets.forgetIndices()).allMatch(i -> contains(sets.recoveryIndices(), i))).isTrue();
        // indices are training-split positions: the synthetic pixel of each image is its index
        for (int j = 0; j < sets.holdout().size(); j++) {
            assertThat((int) sets.holdout().pixels()[j]).isEqualTo(sets.holdoutIndices()[j]);
        }
        int[] union = IntStream.concat(Arrays.stream(sets.holdoutIndices()), Arrays.stream(sets.recoveryIndices()))
                .sorted().toArray();
        assertThat(union).isEqualTo(data.indices());
        // seeded
        assertThat(SeamSets.split(data, 0.25, 0.02, false, 1).forgetIndices()).isEqualTo(sets.forgetIndices());
        assertThat(SeamSets.split(data, 0.25, 0.02, false, 2).holdoutIndices()).isNotEqualTo(sets.holdoutIndices());
    }

    @Test
    void withReplacementTheRecoveryAndForgetSetsRepeatImagesMayOverlapButNeverTouchTheHeldOutSet() {
        PurificationData data = cleanData(40);
        SeamSets without = SeamSets.split(data, 0.25, 0.02, false, 1);
        SeamSets sets = SeamSets.split(data, 0.25, 0.02, true, 1);
        assertThat(sets.holdoutIndices()).isEqualTo(without.holdoutIndices()); // the held-out split is the same
        assertThat(sets.recovery().classCounts()).containsOnly(30);
        assertThat(sets.forget().classCounts()).containsOnly(2);
        int[] pool = without.recoveryIndices(); // everything not held out
        assertThat(Arrays.stream(sets.recoveryIndices()).allMatch(i -> contains(pool, i))).isTrue();
        assertThat(Arrays.stream(sets.forgetIndices()).allMatch(i -> contains(pool, i))).isTrue();
        // 300 draws with replacement from 300 images: repeats (and so missing images) are all but certain
        assertThat(Arrays.stream(sets.recoveryIndices()).distinct().count()).isLessThan(300);
        assertThat(sets.recoveryIndices()).isSorted();
        for (int j = 0; j < sets.recovery().size(); j++) {
            assertThat((int) sets.recovery().pixels()[j]).isEqualTo(sets.recoveryIndices()[j]);
        }
        assertThat(SeamSets.split(data, 0.25, 0.02, true, 1).recoveryIndices()).isEqualTo(sets.recoveryIndices());
    }

    @Test
    void badSizesAreRefusedWithTheOptionNamed() {
        PurificationData data = cleanData(40);
        assertThatThrownBy(() -> SeamSets.split(data, 0.25, 0.004, false, 1))
                .hasMessageContaining("--forget-fraction").hasMessageContaining("fewer than one image per class");
        assertThatThrownBy(() -> SeamSets.split(data, 0.01, 0.02, false, 1))
                .hasMessageContaining("--holdout-fraction").hasMessageContaining("fewer than one image per class");
        assertThatThrownBy(() -> SeamSets.split(data, 0.99, 0.02, false, 1))
                .hasMessageContaining("recovery set would be empty or overlap the held-out set");
        assertThatThrownBy(() -> SeamSets.split(data, 0.5, 0.3, false, 1))
                .hasMessageContaining("needs 30 images per class but the recovery set has 20");
    }

    private static boolean contains(int[] sorted, int v) {
        return Arrays.binarySearch(sorted, v) >= 0;
    }
}
