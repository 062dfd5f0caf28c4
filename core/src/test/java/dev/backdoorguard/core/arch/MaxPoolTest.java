package dev.backdoorguard.core.arch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * MaxPool2d(2): the inference path (grad mode off: strided views) against libtorch's max-pool, even
 * and odd sizes; the training path keeps max-pool's gradient (all of a window's to its first maximum).
 */
class MaxPoolTest {

    @AfterEach
    void gradModeBackOn() {
        JniUtils.setGradMode(true);
    }

    @ParameterizedTest
    @CsvSource({"28, 28", "14, 14", "7, 7", "6, 9", "2, 3"})
    void inferencePathEqualsLibtorchMaxPool(int h, int w) {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(7);
            NDArray x = m.randomNormal(new Shape(3, 4, h, w));
            NDArray expected = Pool.maxPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
            JniUtils.setGradMode(false);
            NDArray actual = TorchNetwork.maxPool2(x);
            assertThat(actual.getShape()).isEqualTo(expected.getShape());
            assertThat(actual.toFloatArray()).containsExactly(expected.toFloatArray());
        }
    }

    @Test
    void anImageSmallerThanTheWindowIsRefused() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.zeros(new Shape(1, 1, 1, 2));
            JniUtils.setGradMode(false);
            assertThatThrownBy(() -> TorchNetwork.maxPool2(x)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("(1, 1, 1, 2)");
        }
    }

    @ParameterizedTest
    @CsvSource({"28, 28", "7, 7"})
    void inTrainingEachWindowPassesItsGradientToOneMaximum(int h, int w) {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(7);
            NDArray x = m.randomNormal(new Shape(2, 3, h, w));
            float[] grad = gradientOfPooledSum(x);
            double total = 0;
            for (float v : grad) {
                assertThat(v).isIn(0f, 1f);
                total += v;
            }
            assertThat(total).isEqualTo(2.0 * 3 * (h / 2) * (w / 2));
        }
    }

    /** Ties are common after ReLU (zeros) and on flat image regions: PyTorch gives the first maximum all. */
    @Test
    void inTrainingATiedWindowGivesItsGradientToTheFirstMaximumAsPyTorchDoes() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] grad = gradientOfPooledSum(m.ones(new Shape(1, 1, 2, 2)));
            assertThat(grad).containsExactly(1f, 0f, 0f, 0f);
        }
    }

    /** d/dx of sum(maxPool2(x + 0)): pooled as in a network, from an intermediate array. */
    private static float[] gradientOfPooledSum(NDArray x) {
        x.setRequiresGradient(true);
        try (GradientCollector g = Engine.getInstance().newGradientCollector()) {
            g.backward(TorchNetwork.maxPool2(x.add(0)).sum());
        }
        return x.getGradient().toFloatArray();
    }
}
