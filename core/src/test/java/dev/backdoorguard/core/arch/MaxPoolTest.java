package dev.backdoorguard.core.arch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** MaxPool2d(2)'s inference path (strided views) against libtorch's max-pool, even and odd sizes. */
class MaxPoolTest {

    @ParameterizedTest
    @CsvSource({"28, 28", "14, 14", "7, 7", "6, 9", "2, 3"})
    void inferencePathEqualsLibtorchMaxPool(int h, int w) {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(7);
            NDArray x = m.randomNormal(new Shape(3, 4, h, w));
            assertThat(x.hasGradient()).isFalse();
            NDArray expected = Pool.maxPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
            NDArray actual = TorchNetwork.maxPool2(x);
            assertThat(actual.getShape()).isEqualTo(expected.getShape());
            assertThat(actual.toFloatArray()).containsExactly(expected.toFloatArray());
        }
    }

    @Test
    void anImageSmallerThanTheWindowIsRefused() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.zeros(new Shape(1, 1, 1, 2));
            assertThatThrownBy(() -> TorchNetwork.maxPool2(x)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("(1, 1, 1, 2)");
        }
    }

    @ParameterizedTest
    @CsvSource({"28, 28", "7, 7"})
    void withAGradientTheBackwardPassRoutesToTheMaximum(int h, int w) {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(7);
            NDArray x = m.randomNormal(new Shape(2, 3, h, w));
            x.setRequiresGradient(true);
            try (GradientCollector g = Engine.getInstance().newGradientCollector()) {
                NDArray y = TorchNetwork.maxPool2(x);
                g.backward(y.sum());
            }
            // Each 2×2 window passes its gradient to exactly one element: its maximum.
            float[] grad = x.getGradient().toFloatArray();
            double total = 0;
            for (float v : grad) {
                assertThat(v).isIn(0f, 1f);
                total += v;
            }
            assertThat(total).isEqualTo(2.0 * 3 * (h / 2) * (w / 2));
        }
    }
}
