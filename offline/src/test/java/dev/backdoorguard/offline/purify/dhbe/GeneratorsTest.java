package dev.backdoorguard.offline.purify.dhbe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The generators' shapes, ranges, BN semantics and initialisation, and the random patch placement. */
class GeneratorsTest {
    @Test
    void imageGeneratorMakesBatchStandardisedImagesOfTheModelSize() {
        try (NDManager m = NDManager.newBaseManager()) {
            Generators.Image g = Generators.image(32, 8, 1, 28, m, 1);
            NDArray x = g.generate(new StepNoise(1, 0, 0).gaussian(m, 16, 32), true);
            assertThat(x.getShape()).isEqualTo(new Shape(16, 1, 28, 28));
            // the last op is a non-affine train-mode BN: each channel has batch mean 0 and variance 1
            assertThat(x.mean().getFloat()).isCloseTo(0f, org.assertj.core.data.Offset.offset(1e-4f));
            float var = x.square().mean().getFloat();
            assertThat(var).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-3f));
            // 32x32, 3 channels: init size 8
            Generators.Image g3 = Generators.image(16, 4, 3, 32, m, 1);
            assertThat(g3.generate(m.randomNormal(new Shape(4, 16)), true).getShape()).isEqualTo(new Shape(4, 3, 32, 32));
        }
    }

    @Test
    void patchGeneratorMakesPatchesInsideMinusOneToOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            Generators.Patch gp = Generators.patch(32, 8, 1, 5, m, 1);
            NDArray p = gp.generate(new StepNoise(1, 0, 0).gaussian(m, 16, 32).mul(10), true);
            assertThat(p.getShape()).isEqualTo(new Shape(16, 1, 5, 5));
            assertThat(p.max().getFloat()).isLessThanOrEqualTo(1f);
            assertThat(p.min().getFloat()).isGreaterThanOrEqualTo(-1f);
            // BN before tanh: values spread over the range, not stuck at one point
            assertThat(p.max().getFloat() - p.min().getFloat()).isGreaterThan(1f);
        }
    }

    @Test
    void initialisationIsPyTorchsDefaultAndSeeded() {
        try (NDManager m = NDManager.newBaseManager()) {
            Generators.Image a = Generators.image(32, 8, 1, 28, m, 5);
            Generators.Image b = Generators.image(32, 8, 1, 28, m, 5);
            Generators.Image c = Generators.image(32, 8, 1, 28, m, 6);
            float[] wa = a.parametersByTorchName().get("conv1.weight").getArray().toFloatArray();
            assertThat(wa).isEqualTo(b.parametersByTorchName().get("conv1.weight").getArray().toFloatArray());
            assertThat(wa).isNotEqualTo(c.parametersByTorchName().get("conv1.weight").getArray().toFloatArray());
            float bound = (float) (1 / Math.sqrt(16 * 9)); // fan_in of conv1 = 2·ngf·3·3
            assertThat(a.parametersByTorchName().get("conv1.bias").getArray().abs().max().getFloat())
                    .isLessThanOrEqualTo(bound).isGreaterThan(bound / 2);
            assertThat(a.parametersByTorchName().get("bn1.weight").getArray().toFloatArray()).containsOnly(1f);
            assertThat(a.parametersByTorchName().get("bn1.bias").getArray().toFloatArray()).containsOnly(0f);
            // the non-affine BN's constants are not trained
            assertThat(Generators.trainable(a)).extracting(Parameter::getName)
                    .doesNotContain("bn_out.weight", "bn_out.bias", "bn1.running_mean").contains("l1.weight", "bn1.weight");
        }
    }

    @Test
    void trainModeUpdatesTheRunningStatisticsAndGradientsFlowThroughTheUpsampling() {
        try (NDManager m = NDManager.newBaseManager()) {
            Generators.Image g = Generators.image(32, 8, 1, 28, m, 1);
            float[] before = g.parametersByTorchName().get("bn1.running_mean").getArray().toFloatArray();
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray x = g.generate(m.randomNormal(new Shape(8, 32)), true);
                collector.backward(x.get(":, :, :14, :").sum()); // BN-standardised: a plain sum has zero gradient
            }
            assertThat(g.parametersByTorchName().get("bn1.running_mean").getArray().toFloatArray()).isNotEqualTo(before);
            // l1 sits before both up-samplings: a non-zero gradient there proves they pass gradients back
            assertThat(g.parametersByTorchName().get("l1.weight").getArray().getGradient().abs().sum().getFloat())
                    .isGreaterThan(0f);
            NDArray up = Generators.upsample(m.arange(4f).reshape(1, 1, 2, 2));
            assertThat(up.toFloatArray()).containsExactly(0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3);
        }
    }

    @Test
    void thePatchLandsAtTheDrawnPlaceAndIsZeroElsewhere() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray patch = m.randomUniform(0.5f, 1f, new Shape(2, 1, 5, 5));
            for (int[] at : new int[][] {{0, 0}, {23, 23}, {4, 17}, {23, 0}}) {
                float[] padded = StepNoise.pad(patch, 28, at[0], at[1]).toFloatArray();
                assertThat(padded).hasSize(2 * 28 * 28);
                for (int b = 0; b < 2; b++) {
                    for (int r = 0; r < 28; r++) {
                        for (int c = 0; c < 28; c++) {
                            float v = padded[b * 784 + r * 28 + c];
                            boolean inside = r >= at[0] && r < at[0] + 5 && c >= at[1] && c < at[1] + 5;
                            if (inside) {
                                assertThat(v).isEqualTo(patch.getFloat(b, 0, r - at[0], c - at[1]));
                            } else {
                                assertThat(v).isZero();
                            }
                        }
                    }
                }
            }
            assertThatThrownBy(() -> StepNoise.pad(patch, 28, 24, 0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void locationsAreUniformOverTheImageFreshPerStepAndReproducible() {
        Set<String> seen = new HashSet<>();
        int[] rows = new int[24];
        for (int it = 0; it < 400; it++) {
            for (int step = 0; step < 7; step++) {
                StepNoise n = new StepNoise(3, it, step);
                int top = n.offset(23);
                int left = n.offset(23);
                assertThat(top).isBetween(0, 23);
                assertThat(left).isBetween(0, 23);
                rows[top]++;
                seen.add(top + "," + left);
            }
        }
        assertThat(rows).doesNotContain(0); // every row offset occurs
        assertThat(seen.size()).isGreaterThan(400); // far from one fixed place
        StepNoise a = new StepNoise(3, 10, 2);
        StepNoise b = new StepNoise(3, 10, 2);
        assertThat(a.offset(23)).isEqualTo(b.offset(23));
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(a.gaussian(m, 2, 3).toFloatArray()).isEqualTo(b.gaussian(m, 2, 3).toFloatArray());
            assertThat(new StepNoise(3, 10, 3).gaussian(m, 2, 3).toFloatArray())
                    .isNotEqualTo(new StepNoise(3, 10, 2).gaussian(m, 2, 3).toFloatArray());
        }
    }

    @Test
    void imageSizesTheGeneratorCannotMakeAreRefused() {
        assertThatThrownBy(() -> Generators.checkImageSize(30, 30)).hasMessageContaining("divisible by 4");
        assertThatThrownBy(() -> Generators.checkImageSize(28, 32)).hasMessageContaining("square");
        Generators.checkImageSize(32, 32);
    }
}
