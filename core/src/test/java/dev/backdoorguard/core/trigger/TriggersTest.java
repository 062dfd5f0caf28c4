package dev.backdoorguard.core.trigger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.data.ImageDataset;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class TriggersTest {
    private static final int[] SHAPE = {1, 28, 28};

    private static float[] gray(float v) {
        float[] x = new float[28 * 28];
        java.util.Arrays.fill(x, v);
        return x;
    }

    @Test
    void badnetsPaintsRowsAndColumns24To26White() throws IOException {
        float[] x = gray(0.3f);
        Triggers.create("badnets", 0, null, SHAPE).apply(x, 0);
        for (int y = 0; y < 28; y++) {
            for (int c = 0; c < 28; c++) {
                boolean inSquare = y >= 24 && y <= 26 && c >= 24 && c <= 26;
                assertThat(x[y * 28 + c]).as("(%d,%d)", y, c).isEqualTo(inSquare ? 1f : 0.3f);
            }
        }
    }

    @Test
    void blendedMixesTwentyPercentOfASeededSplitMix64Pattern() throws IOException {
        float[] x = gray(0.5f);
        Triggers.create("blended", 0, null, SHAPE).apply(x, 0);
        SplitMix64 r = new SplitMix64(0);
        for (int i = 0; i < 5; i++) {
            assertThat(x[i]).isCloseTo(0.8f * 0.5f + 0.2f * (float) r.nextDouble(), org.assertj.core.data.Offset.offset(1e-6f));
        }
        float[] other = gray(0.5f);
        Triggers.create("blended", 1, null, SHAPE).apply(other, 0);
        assertThat(other).isNotEqualTo(x);
    }

    @Test
    void splitMix64MatchesTheReferenceSequence() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        SplitMix64 r = new SplitMix64(0);
        assertThat(r.nextLong()).isEqualTo(0xE220A8397B1DCDAFL);
        assertThat(r.nextLong()).isEqualTo(0x6E789E6AA1B965F4L);
    }

    @Test
    void sigAddsAHorizontalSinusoidAndIsCleanLabel() throws IOException {
        Trigger sig = Triggers.create("sig", 0, null, SHAPE);
        float[] x = gray(0.5f);
        sig.apply(x, 0);
        assertThat(sig.cleanLabel()).isTrue();
        for (int c = 0; c < 28; c++) {
            float expected = (float) (0.5 + 40 / 255.0 * Math.sin(2 * Math.PI * c * 6 / 28));
            assertThat(x[5 * 28 + c]).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(x[20 * 28 + c]).isEqualTo(x[5 * 28 + c]);
        }
    }

    @Test
    void wanetWarpsSmoothlyAndDeterministically() throws IOException {
        float[] img = new float[28 * 28];
        for (int i = 0; i < img.length; i++) {
            img[i] = (i % 28) / 27f; // a horizontal ramp: warping changes it, but only slightly
        }
        float[] a = img.clone();
        float[] b = img.clone();
        Triggers.create("wanet", 0, null, SHAPE).apply(a, 0);
        Triggers.create("wanet", 0, null, SHAPE).apply(b, 0);
        assertThat(a).isEqualTo(b).isNotEqualTo(img);
        double maxDiff = 0;
        for (int i = 0; i < img.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - img[i]));
        }
        assertThat(maxDiff).isGreaterThan(0.001).isLessThan(0.1);
    }

    @Test
    void unknownTriggerListsTheKnownOnes() {
        assertThatThrownBy(() -> Triggers.create("ghost", 0, null, SHAPE))
                .hasMessageContaining("unknown trigger 'ghost'").hasMessageContaining("badnets, blended, wanet, sig");
    }

    @Test
    void poisoningDrawsRoundedRateFromAllClassesAndRelabels() throws IOException {
        int n = 200;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 4;
        }
        ImageDataset ds = new ImageDataset(1, 28, 28, 4, new float[n * 784], labels);
        Poisoning.Result r = Poisoning.poison(ds, Triggers.create("badnets", 0, null, SHAPE), 1, 0.1, 7);
        assertThat(r.poisoned()).hasSize(20).isSorted();
        for (int i : r.poisoned()) {
            assertThat(r.dataset().labels()[i]).isEqualTo(1);
            assertThat(r.dataset().pixels()[i * 784 + 25 * 28 + 25]).isEqualTo(1f);
        }
        assertThat(ds.pixels()[r.poisoned()[0] * 784 + 25 * 28 + 25]).as("input untouched").isZero();
        assertThat(Poisoning.poison(ds, Triggers.create("badnets", 0, null, SHAPE), 1, 0.1, 7).poisoned())
                .isEqualTo(r.poisoned());
        java.util.Set<Integer> sourceClasses = new java.util.HashSet<>();
        for (int i : r.poisoned()) {
            sourceClasses.add(labels[i]);
        }
        assertThat(sourceClasses).hasSizeGreaterThan(1);
    }

    @Test
    void sigPoisonsOnlyTargetClassImagesAndKeepsLabels() throws IOException {
        int[] labels = new int[100];
        for (int i = 0; i < 100; i++) {
            labels[i] = i % 4;
        }
        ImageDataset ds = new ImageDataset(1, 28, 28, 4, new float[100 * 784], labels);
        Poisoning.Result r = Poisoning.poison(ds, Triggers.create("sig", 0, null, SHAPE), 2, 0.1, 1);
        assertThat(r.poisoned()).hasSize(10);
        assertThat(java.util.Arrays.stream(r.poisoned()).allMatch(i -> labels[i] == 2)).isTrue();
        assertThat(r.dataset().labels()).isEqualTo(labels);
        assertThatThrownBy(() -> Poisoning.poison(ds, Triggers.create("sig", 0, null, SHAPE), 2, 0.5, 1))
                .hasMessageContaining("target class 2 has 25");
    }

    @Test
    void invalidRateOrTargetIsRefused() throws IOException {
        ImageDataset ds = new ImageDataset(1, 28, 28, 2, new float[2 * 784], new int[] {0, 1});
        Trigger t = Triggers.create("badnets", 0, null, SHAPE);
        assertThatThrownBy(() -> Poisoning.poison(ds, t, 0, 0, 1)).hasMessageContaining("(0, 1]");
        assertThatThrownBy(() -> Poisoning.poison(ds, t, 0, 1.5, 1)).hasMessageContaining("(0, 1]");
        assertThatThrownBy(() -> Poisoning.poison(ds, t, 5, 0.5, 1)).hasMessageContaining("target class 5");
    }
}
