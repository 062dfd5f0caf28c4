package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.model.Classifier;
import java.nio.file.Path;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** One train-mode forward pass against PyTorch: batch statistics and the BN running-stat update (momentum 0.1). */
class TrainModeParityTest {
    static final Path PARITY = Path.of("../core/src/test/resources/parity");

    @Test
    void trainModeForwardAndRunningStatsMatchPyTorch() throws Exception {
        Map<String, HostTensor> inputs = SafeTensors.read(PARITY.resolve("cnn-small/inputs.safetensors"));
        Map<String, HostTensor> expected = SafeTensors.read(PARITY.resolve("training/bn_train.safetensors"));
        try (Classifier model = Classifier.load(PARITY.resolve("cnn-small"), Architectures.standard());
                NDManager m = NDManager.newBaseManager()) {
            HostTensor in = inputs.get("input");
            NDArray logits = model.forward(m.create(in.floats(), new Shape(in.shape())), true);
            assertClose(logits.toFloatArray(), expected.get("logits_train").floats());
            assertClose(model.parameters().get("features.1.running_mean").getArray().toFloatArray(),
                    expected.get("features.1.running_mean").floats());
            assertClose(model.parameters().get("features.1.running_var").getArray().toFloatArray(),
                    expected.get("features.1.running_var").floats());
        }
    }

    private static void assertClose(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as("[" + i + "]").isCloseTo(expected[i], Offset.offset(1e-4 * Math.max(1, Math.abs(expected[i]))));
        }
    }
}
