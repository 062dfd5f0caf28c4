package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The optimizer against torch.optim.SGD(lr, momentum 0.9, weight_decay 5e-4) on a toy linear
 * problem, with the learning rate changed before every step (0.1, 0.05, 0.01): the case where DJL's
 * own SGD, which folds the learning rate into the momentum buffer, would differ.
 */
class TorchSgdTest {
    @Test
    void threeStepsWithChangingLearningRateMatchPyTorch() throws Exception {
        Map<String, HostTensor> f = SafeTensors.read(Path.of("../core/src/test/resources/parity/training/sgd.safetensors"));
        try (NDManager m = NDManager.newBaseManager()) {
            Parameter w = param(m, "w", f.get("w0"));
            Parameter b = param(m, "b", f.get("b0"));
            NDArray x = m.create(f.get("x").floats(), new Shape(f.get("x").shape()));
            long[] targets = f.get("y").longs();
            float[] y = new float[targets.length];
            for (int i = 0; i < y.length; i++) {
                y[i] = targets[i];
            }
            NDArray labels = m.create(y);
            float[] lrs = f.get("lrs").floats();
            try (TorchSgd sgd = new TorchSgd(List.of(w, b), 0.9, 5e-4, m)) {
                for (int step = 1; step <= 3; step++) {
                    try (NDManager scope = m.newSubManager();
                            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray logits = x.matMul(w.getArray().transpose()).add(b.getArray());
                        NDArray loss = Losses.crossEntropy(logits, labels);
                        loss.attach(scope);
                        gc.backward(loss);
                    }
                    sgd.step(lrs[step - 1]);
                    assertClose(w.getArray().toFloatArray(), f.get("w" + step).floats(), "w after step " + step);
                    assertClose(b.getArray().toFloatArray(), f.get("b" + step).floats(), "b after step " + step);
                }
            }
        }
    }

    private static Parameter param(NDManager m, String name, HostTensor t) {
        Parameter p = Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT)
                .optArray(m.create(t.floats(), new Shape(t.shape()))).build();
        p.getArray().setRequiresGradient(true);
        return p;
    }

    private static void assertClose(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as(what + "[" + i + "]").isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5));
        }
    }
}
