package dev.backdoorguard.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The heap argmax and softmax give what libtorch gives for the same logits, ties and NaN included. */
class LogitsTest {
    private static final int K = 10;

    /** Random rows, then rows with tied maxima, a NaN, two NaNs, -inf entries and an all-equal row. */
    private static float[] logits() {
        Random random = new Random(3);
        float[] flat = new float[12 * K];
        for (int i = 0; i < flat.length; i++) {
            flat[i] = (float) random.nextGaussian() * 4;
        }
        flat[6 * K + 2] = 9;
        flat[6 * K + 7] = 9;
        flat[7 * K + 4] = Float.NaN;
        flat[8 * K + 3] = Float.NaN;
        flat[8 * K + 8] = Float.NaN;
        flat[9 * K] = Float.NEGATIVE_INFINITY;
        flat[9 * K + 5] = Float.NEGATIVE_INFINITY;
        for (int k = 0; k < K; k++) {
            flat[10 * K + k] = 1.5f;
        }
        flat[11 * K + 9] = 50;
        return flat;
    }

    @Test
    void argmaxAndSoftmaxMatchTheEngine() {
        float[] flat = logits();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(flat, new Shape(flat.length / K, K));
            int[] expectedLabels = x.argMax(1).toType(DataType.INT32, false).toIntArray();
            float[] expectedProbabilities = x.softmax(1).toFloatArray();
            assertThat(Logits.argmax(flat, K)).containsExactly(expectedLabels);
            float[] probabilities = Logits.softmax(flat, K);
            for (int i = 0; i < flat.length; i++) {
                if (Float.isNaN(expectedProbabilities[i])) {
                    assertThat(probabilities[i]).as("item %d", i).isNaN();
                } else {
                    assertThat(probabilities[i]).as("item %d", i).isCloseTo(expectedProbabilities[i], within(1e-6f));
                }
            }
        }
    }

    @Test
    void tiesGoToTheFirstMaximumAndTheFirstNanWins() {
        float[] flat = logits();
        assertThat(Logits.argmax(flat, 6, K)).isEqualTo(2);
        assertThat(Logits.argmax(flat, 7, K)).isEqualTo(4);
        assertThat(Logits.argmax(flat, 8, K)).isEqualTo(3);
        assertThat(Logits.argmax(flat, 10, K)).isZero();
        assertThat(Logits.argmax(flat, 11, K)).isEqualTo(9);
    }

    @Test
    void refusesLogitsThatAreNotWholeRows() {
        assertThatThrownBy(() -> Logits.argmax(new float[15], K))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("15 logits are not rows of 10 classes");
        assertThatThrownBy(() -> Logits.softmax(new float[3], 0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
