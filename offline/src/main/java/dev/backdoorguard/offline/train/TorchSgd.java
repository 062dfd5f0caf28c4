package dev.backdoorguard.offline.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * SGD with {@code torch.optim.SGD}'s update rule (no dampening, no Nesterov):
 * {@code g = grad + wd·w; v = μ·v + g (v = g on the first step); w -= lr·v}.
 *
 * <p>The update runs in DJL's fused native kernel, one call per parameter instead of half a dozen
 * array operations. That kernel keeps the learning rate folded into its buffer, {@code s = lr·v}
 * ({@code s = μ·s + lr·g; w -= s}), which equals PyTorch's rule only while the learning rate is
 * constant (specs/clp-fst.md §8.2). So when the rate changes from {@code lr_old} to {@code lr}, the
 * buffers are rescaled by {@code lr/lr_old} first, which restores {@code s = lr·v} exactly.
 * Gradients are zeroed after each step.
 */
public final class TorchSgd implements AutoCloseable {
    private final List<Parameter> parameters;
    private final float momentum;
    private final float weightDecay;
    private final NDManager state;
    private final NDArray[] buffers;
    private double lastLr = Double.NaN;

    public TorchSgd(List<Parameter> trainable, double momentum, double weightDecay, NDManager parent) {
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        }
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }
        this.parameters = new ArrayList<>(trainable);
        this.momentum = (float) momentum;
        this.weightDecay = (float) weightDecay;
        this.state = parent.newSubManager();
        this.buffers = new NDArray[parameters.size()];
    }

    /**
     * One update of every parameter with learning rate {@code lr} (> 0: a zero rate would erase the
     * folded buffer); call outside a gradient collector.
     */
    public void step(double lr) {
        if (JniUtils.isGradMode()) {
            throw new IllegalStateException("optimizer step inside a gradient collector (grad mode is on)");
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and > 0, got " + lr);
        }
        if (momentum > 0 && !Double.isNaN(lastLr) && lr != lastLr) {
            for (NDArray buffer : buffers) {
                buffer.muli(lr / lastLr);
            }
        }
        lastLr = lr;
        for (int i = 0; i < parameters.size(); i++) {
            PtNDArray w = (PtNDArray) parameters.get(i).getArray();
            if (buffers[i] == null) {
                // s = 0 makes the first fused step s = lr·g, i.e. PyTorch's v = g.
                buffers[i] = state.zeros(w.getShape(), w.getDataType());
            }
            try (PtNDArray grad = JniUtils.getGradient(w)) {
                JniUtils.sgdUpdate(w, grad, (PtNDArray) buffers[i], (float) lr, weightDecay, 1f, -1f, momentum);
            }
            JniUtils.zeroGrad(w);
        }
    }

    /**
     * The optimiser's state for a checkpoint: the learning rate of the last step (NaN before the
     * first) and each parameter's folded momentum buffer {@code lr·v} (null before its first step).
     */
    public record State(double lastLr, List<float[]> buffers) {
        public State {
            buffers = java.util.Collections.unmodifiableList(new ArrayList<>(buffers));
        }
    }

    public State exportState() {
        List<float[]> out = new ArrayList<>();
        for (NDArray buffer : buffers) {
            out.add(buffer == null ? null : buffer.toFloatArray());
        }
        return new State(lastLr, out);
    }

    /** Restores {@link #exportState()}'s output; the buffers must match the parameters one to one. */
    public void importState(State saved) {
        if (saved.buffers().size() != parameters.size()) {
            throw new IllegalArgumentException("SGD state has " + saved.buffers().size() + " buffers for "
                    + parameters.size() + " parameters");
        }
        for (int i = 0; i < parameters.size(); i++) {
            float[] values = saved.buffers().get(i);
            NDArray w = parameters.get(i).getArray();
            if (values != null && values.length != w.size()) {
                throw new IllegalArgumentException("SGD buffer " + i + " has " + values.length + " values, parameter has "
                        + w.size());
            }
        }
        for (int i = 0; i < parameters.size(); i++) {
            float[] values = saved.buffers().get(i);
            if (buffers[i] != null) {
                buffers[i].close();
                buffers[i] = null;
            }
            if (values != null) {
                NDArray w = parameters.get(i).getArray();
                buffers[i] = state.create(values, w.getShape());
            }
        }
        lastLr = saved.lastLr();
    }

    @Override
    public void close() {
        state.close();
    }
}
