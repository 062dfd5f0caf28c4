package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The optimizer against torch.optim.Adam on a toy linear problem over three steps with the
 * learning rate changed between them (tools/make_fixtures.py, adam.safetensors): default betas
 * without weight decay, and SEAM's recover betas (0.5, 0.9) with a weight decay large enough to show.
 */
class TorchAdamTest {
    @ParameterizedTest
    @CsvSource({"plain, 0.9, 0.999, 0.0", "decay, 0.5, 0.9, 0.1"})
    void threeStepsMatchPyTorch(String name, double beta1, double beta2, double weightDecay) throws Exception {
        Map<String, HostTensor> f = SafeTensors.read(Path.of("../core/src/test/resources/parity/training/adam.safetensors"));
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
            try (TorchAdam adam = new TorchAdam(List.of(w, b), beta1, beta2, weightDecay, m)) {
                for (int step = 1; step <= 3; step++) {
                    try (NDManager scope = m.newSubManager();
                            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray logits = x.matMul(w.getArray().transpose()).add(b.getArray());
                        NDArray loss = Losses.crossEntropy(logits, labels);
                        loss.attach(scope);
                        gc.backward(loss);
                    }
                    adam.step(lrs[step - 1]);
                    assertThat(adam.steps()).isEqualTo(step);
                    assertClose(w.getArray().toFloatArray(), f.get(name + "_w" + step).floats(), name + " w after step " + step);
                    assertClose(b.getArray().toFloatArray(), f.get(name + "_b" + step).floats(), name + " b after step " + step);
                }
            }
        }
    }

    @Test
    void rejectsBadSettings() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> new TorchAdam(List.of(), 1.0, 0.999, 0, m)).hasMessageContaining("beta1");
            assertThatThrownBy(() -> new TorchAdam(List.of(), 0.9, Double.NaN, 0, m)).hasMessageContaining("beta2");
            assertThatThrownBy(() -> new TorchAdam(List.of(), 0.9, 0.999, -1, m)).hasMessageContaining("weight decay");
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
            assertThat((double) actual[i]).as(what + "[" + i + "]").isCloseTo(expected[i], Offset.offset(1e-6));
        }
    }
}
