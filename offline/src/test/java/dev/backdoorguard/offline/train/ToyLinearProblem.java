package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.bundle.HostTensor;
import java.util.Map;
import org.assertj.core.data.Offset;

/**
 * The optimizer parity fixtures' problem (tools/make_fixtures.py): a Linear(5, 3) with weight
 * {@code w0} and bias {@code b0} under mean cross-entropy on the inputs {@code x} and labels {@code y}.
 */
final class ToyLinearProblem {
    final Parameter w;
    final Parameter b;
    private final NDManager manager;
    private final NDArray x;
    private final NDArray labels;

    ToyLinearProblem(NDManager manager, Map<String, HostTensor> fixture) {
        this.manager = manager;
        this.w = param(manager, "w", fixture.get("w0"));
        this.b = param(manager, "b", fixture.get("b0"));
        this.x = manager.create(fixture.get("x").floats(), new Shape(fixture.get("x").shape()));
        long[] targets = fixture.get("y").longs();
        float[] y = new float[targets.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = targets[i];
        }
        this.labels = manager.create(y);
    }

    /** Forward and backward once: the gradients of w and b are then set for an optimizer step. */
    void backward() {
        try (NDManager scope = manager.newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray logits = x.matMul(w.getArray().transpose()).add(b.getArray());
            NDArray loss = Losses.crossEntropy(logits, labels);
            loss.attach(scope);
            gc.backward(loss);
        }
    }

    void assertParameters(HostTensor expectedW, HostTensor expectedB, double tolerance, String what) {
        assertClose(w.getArray().toFloatArray(), expectedW.floats(), tolerance, "w " + what);
        assertClose(b.getArray().toFloatArray(), expectedB.floats(), tolerance, "b " + what);
    }

    private static Parameter param(NDManager m, String name, HostTensor t) {
        Parameter p = Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT)
                .optArray(m.create(t.floats(), new Shape(t.shape()))).build();
        p.getArray().setRequiresGradient(true);
        return p;
    }

    private static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as(what + "[" + i + "]").isCloseTo(expected[i], Offset.offset(tolerance));
        }
    }
}
