package dev.backdoorguard.core.arch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.model.Classifier;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * DJL's forward pass against PyTorch's on bundles written by PyTorch (tools/make_fixtures.py):
 * logits and every declared tap to 1e-4, in eval mode with non-trivial BN statistics.
 */
class PyTorchParityTest {
    static final double TOLERANCE = 1e-4;

    static Path fixture(String name) {
        return Path.of("src/test/resources/parity", name);
    }

    /**
     * With grad mode on, the parameters make every activation require a gradient; with it off
     * (serving, evaluation) some ops take their inference path (cnn-small's max-pool).
     */
    @ParameterizedTest
    @CsvSource({"cnn-small, true", "cnn-small, false", "preact-resnet18, true", "preact-resnet18, false",
        "resnet18, true", "resnet18, false"})
    void logitsAndTapsMatchPyTorch(String arch, boolean gradMode) throws Exception {
        boolean before = JniUtils.isGradMode();
        JniUtils.setGradMode(gradMode);
        try {
            assertMatchesPyTorch(arch);
        } finally {
            JniUtils.setGradMode(before);
        }
    }

    private static void assertMatchesPyTorch(String arch) throws Exception {
        Path dir = fixture(arch);
        Map<String, HostTensor> inputs = SafeTensors.read(dir.resolve("inputs.safetensors"));
        Map<String, HostTensor> expected = SafeTensors.read(dir.resolve("expected.safetensors"));
        try (Classifier model = Classifier.load(dir, Architectures.standard());
                NDManager m = NDManager.newBaseManager()) {
            HostTensor input = inputs.get("input");
            NDArray x = m.create(input.floats(), new Shape(input.shape()));
            NDList out = model.forwardWithTaps(x, false, model.architecture().taps());
            assertClose("logits", out.get(0), expected.get("logits"));
            for (int i = 1; i < out.size(); i++) {
                String tap = out.get(i).getName();
                assertClose("tap " + tap, out.get(i), expected.get("tap:" + tap));
            }
            assertThat(out.size() - 1).isEqualTo(model.architecture().taps().size());
        }
    }

    static void assertClose(String what, NDArray actual, HostTensor expected) {
        assertThat(expected).as(what + " present in the fixture").isNotNull();
        assertThat(actual.getShape().getShape()).as(what + " shape").containsExactly(expected.shape());
        float[] a = actual.toFloatArray();
        float[] e = expected.floats();
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - e[i]) / Math.max(1, Math.abs(e[i])));
        }
        assertThat(worst).as(what + " max error").isLessThan(TOLERANCE);
    }
}
