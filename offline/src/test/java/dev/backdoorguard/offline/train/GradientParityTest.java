package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.model.Classifier;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every parameter's gradient of a train-mode cross-entropy step against PyTorch's autograd. */
class GradientParityTest {
    static final Path PARITY = Path.of("../core/src/test/resources/parity");

    @Test
    void trainModeGradientsMatchPyTorch() throws Exception {
        Map<String, HostTensor> inputs = SafeTensors.read(PARITY.resolve("cnn-small/inputs.safetensors"));
        Map<String, HostTensor> expected = SafeTensors.read(PARITY.resolve("training/grads.safetensors"));
        try (Classifier model = Classifier.load(PARITY.resolve("cnn-small"), Architectures.standard());
                NDManager m = NDManager.newBaseManager()) {
            HostTensor in = inputs.get("input");
            long[] y = expected.get("labels").longs();
            float[] labels = new float[y.length];
            for (int i = 0; i < y.length; i++) {
                labels[i] = y[i];
            }
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = Losses.crossEntropy(model.forward(m.create(in.floats(), new Shape(in.shape())), true),
                        m.create(labels));
                assertThat((double) loss.getFloat()).isCloseTo(expected.get("loss").floats()[0],
                        org.assertj.core.data.Offset.offset(1e-5));
                gc.backward(loss);
            }
            for (Map.Entry<String, Parameter> e : model.parameters().entrySet()) {
                if (!e.getValue().requiresGradient()) {
                    continue;
                }
                try (NDArray grad = e.getValue().getArray().getGradient()) {
                    float[] a = grad.toFloatArray();
                    float[] b = expected.get("grad:" + e.getKey()).floats();
                    double worst = 0;
                    double scale = 1e-4; // a conv bias before train-mode BN has a gradient of ~0
                    for (int i = 0; i < a.length; i++) {
                        worst = Math.max(worst, Math.abs(a[i] - b[i]));
                        scale = Math.max(scale, Math.abs(b[i]));
                    }
                    assertThat(worst / scale).as("gradient of " + e.getKey()).isLessThan(1e-3);
                }
            }
        }
    }
}
