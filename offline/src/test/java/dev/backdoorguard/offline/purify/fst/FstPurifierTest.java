package dev.backdoorguard.offline.purify.fst;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import java.nio.file.Path;
import java.util.Map;
import org.assertj.core.data.Percentage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** FST's invariants on the PyTorch-written parity model and a small real clean set. */
class FstPurifierTest {
    static final Path MODEL = Path.of("../core/src/test/resources/parity/cnn-small");
    static PurificationData clean;

    @BeforeAll
    static void loadCleanData() throws Exception {
        ImageDataset train = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TRAIN, 10);
        int[] idx = Subsets.classBalanced(train.labels(), 10, 20, 3).selected();
        clean = new PurificationData(train.subset(idx), idx, Subsets.indicesHash(idx));
    }

    private static FstPurifier purifier(FstMode mode) {
        return new FstPurifier(new FstConfig(mode, 0.2, 2, 64, 0.01, new Augmentation(4, true), 1), (e, n, s, t, l) -> {});
    }

    @ParameterizedTest
    @EnumSource(FstMode.class)
    void eachModeTrainsExactlyItsParametersAndKeepsTheHeadNorm(FstMode mode) throws Exception {
        try (Classifier model = Classifier.load(MODEL, Architectures.standard())) {
            Map<String, HostTensor> before = model.stateDict();
            double c = FstPurifier.norm(before.get("classifier.2.weight").floats());
            FstPurifier fst = purifier(mode);
            fst.purify(model, clean);
            Map<String, HostTensor> after = model.stateDict();
            // projection after every step: ||W|| = ||W0||
            assertThat(fst.headNorms()).hasSize(2 * 4); // 200 images, batch 64, drop_last = false: 4 steps per epoch
            fst.headNorms().forEach(n -> assertThat(n).isCloseTo(c, Percentage.withPercentage(1e-3)));
            boolean backboneChanged = !java.util.Arrays.equals(before.get("features.3.weight").floats(),
                    after.get("features.3.weight").floats());
            boolean headBiasChanged = !java.util.Arrays.equals(before.get("classifier.2.bias").floats(),
                    after.get("classifier.2.bias").floats());
            assertThat(backboneChanged).as("backbone trained").isEqualTo(mode.trainBackbone);
            assertThat(headBiasChanged).as("head bias changed").isEqualTo(mode.trainHead || mode.reinitHead);
            // buffers are updated by train-mode forward passes in every mode, as in the reference (net.train())
            assertThat(after.get("features.1.running_mean").floats()).isNotEqualTo(before.get("features.1.running_mean").floats());
            // every parameter is trainable again afterwards
            assertThat(model.parameters().get("features.0.weight").getArray().hasGradient()).isTrue();
        }
    }

    @Test
    void frozenHeadAfterReinitIsThePublishedDrawWithinTheReinitBound() throws Exception {
        try (Classifier model = Classifier.load(MODEL, Architectures.standard())) {
            purifier(FstMode.FE_TUNING).purify(model, clean);
            float bound = (float) (1 / Math.sqrt(128));
            float[] bias = model.stateDict().get("classifier.2.bias").floats();
            for (float b : bias) {
                assertThat(Math.abs(b)).isLessThanOrEqualTo(bound); // re-initialised, then frozen: never trained
            }
            // the bias is never projected, so it is exactly the draw bench/FstDraw.java hands to the reference
            assertThat(bias).containsExactly(FstPurifier.initialHead(1, 10, 128).bias());
        }
        assertThat(FstPurifier.initialHead(2, 10, 128).bias()).isNotEqualTo(FstPurifier.initialHead(1, 10, 128).bias());
    }

    @Test
    void refusesToRunWithoutCleanDataOrWithABadAlpha() throws Exception {
        try (Classifier model = Classifier.load(MODEL, Architectures.standard())) {
            assertThatThrownBy(() -> purifier(FstMode.FST).purify(model, PurificationData.none()))
                    .hasMessageContaining("clean data");
        }
        assertThatThrownBy(() -> new FstConfig(FstMode.FST, -1, 1, 1, 0.1, Augmentation.NONE, 0))
                .hasMessageContaining("--alpha");
        assertThatThrownBy(() -> FstMode.parse("all")).hasMessageContaining("unknown --mode 'all'");
    }
}
