package dev.backdoorguard.core.arch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The channels-last copy that training runs on: same shape and values, gradients pass straight
 * through, inference untouched, and max-pool over it still gives a tied window's gradient to its
 * first maximum (libtorch's channels-last kernel, as PyTorch's NCHW one).
 */
class TrainingLayoutTest {

    private boolean gradModeBefore;

    /** Training's grad mode, whatever the thread had (the engine starts with it off). */
    @BeforeEach
    void gradModeOn() {
        Engine.getInstance(); // loads libtorch before the first JNI call
        gradModeBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
    }

    @AfterEach
    void gradModeBack() {
        JniUtils.setGradMode(gradModeBefore);
    }

    /**
     * The copy really is channels-last in memory: NHWC order read back from it is a view of the same
     * storage (an NCHW array would be copied by that reshape), so writing through it changes the array.
     */
    @Test
    void inTrainingTheMemoryIsChannelsLast() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray y = TorchNetwork.trainingLayout(m.randomNormal(new Shape(2, 3, 4, 5)));
            float[] before = y.toFloatArray();
            y.transpose(0, 2, 3, 1).reshape(-1).addi(1f);
            float[] after = y.toFloatArray();
            for (int i = 0; i < before.length; i++) {
                assertThat(after[i]).isEqualTo(before[i] + 1f);
            }
        }
    }

    @Test
    void withGradModeOffTheArrayIsReturnedAsItIs() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 3, 4, 5));
            JniUtils.setGradMode(false);
            assertThat(TorchNetwork.trainingLayout(x)).isSameAs(x);
        }
    }

    @Test
    void inTrainingShapeAndValuesAreKeptAndTheGradientPassesThrough() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            NDArray x = m.randomNormal(new Shape(2, 3, 4, 5));
            NDArray weights = m.randomNormal(new Shape(2, 3, 4, 5));
            x.setRequiresGradient(true);
            try (GradientCollector g = Engine.getInstance().newGradientCollector()) {
                NDArray y = TorchNetwork.trainingLayout(x.add(0));
                assertThat(y.getShape()).isEqualTo(x.getShape());
                assertThat(y.toFloatArray()).containsExactly(x.toFloatArray());
                // Element-wise work on the new layout lines up with the old one.
                assertThat(y.mul(weights).toFloatArray()).containsExactly(x.mul(weights).toFloatArray());
                g.backward(y.mul(weights).sum());
            }
            assertThat(x.getGradient().toFloatArray()).containsExactly(weights.toFloatArray());
        }
    }

    @Test
    void maxPoolOverTheTrainingLayoutGivesATiedWindowsGradientToItsFirstMaximum() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(1, 2, 2, 2));
            x.setRequiresGradient(true);
            try (GradientCollector g = Engine.getInstance().newGradientCollector()) {
                NDArray pooled = TorchNetwork.maxPool2(TorchNetwork.trainingLayout(x.add(0)));
                g.backward(pooled.sum());
            }
            assertThat(x.getGradient().toFloatArray()).containsExactly(1f, 0f, 0f, 0f, 1f, 0f, 0f, 0f);
        }
    }

    @Test
    void maxPoolOverTheTrainingLayoutEqualsTheNchwOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(5);
            NDArray x = m.randomNormal(new Shape(3, 4, 7, 6));
            NDArray expected = Pool.maxPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
            assertThat(TorchNetwork.maxPool2(TorchNetwork.trainingLayout(x)).toFloatArray())
                    .containsExactly(expected.toFloatArray());
        }
    }
}
