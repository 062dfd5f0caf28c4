package dev.backdoorguard.offline.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * SGD with {@code torch.optim.SGD}'s update rule (no dampening, no Nesterov):
 * {@code g = grad + wd·w; v = μ·v + g (v = g on the first step); w -= lr·v}. DJL's own SGD folds
 * the learning rate into the momentum buffer, which differs as soon as the learning rate changes
 * (specs/clp-fst.md §8.2). Gradients are zeroed after each step.
 */
public final class TorchSgd implements AutoCloseable {
    private final List<Parameter> parameters;
    private final double momentum;
    private final double weightDecay;
    private final NDManager state;
    private final NDArray[] buffers;

    public TorchSgd(List<Parameter> trainable, double momentum, double weightDecay, NDManager parent) {
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        }
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }
        this.parameters = new ArrayList<>(trainable);
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.state = parent.newSubManager();
        this.buffers = new NDArray[parameters.size()];
    }

    /** One update of every parameter with learning rate {@code lr}; call outside a gradient collector. */
    public void step(double lr) {
        if (JniUtils.isGradMode()) {
            throw new IllegalStateException("optimizer step inside a gradient collector (grad mode is on)");
        }
        for (int i = 0; i < parameters.size(); i++) {
            NDArray w = parameters.get(i).getArray();
            // Results attach to the manager of their first operand (the model's): every temporary is
            // moved into this scope so nothing accumulates in the model's manager.
            try (NDManager scope = state.newSubManager()) {
                NDArray grad = w.getGradient();
                grad.attach(scope);
                NDArray g = grad;
                if (weightDecay != 0) {
                    NDArray decay = w.mul(weightDecay);
                    decay.attach(scope);
                    g = grad.add(decay);
                    g.attach(scope);
                }
                if (momentum > 0) {
                    if (buffers[i] == null) {
                        buffers[i] = g.duplicate();
                        buffers[i].attach(state);
                    } else {
                        buffers[i].muli(momentum).addi(g);
                    }
                    g = buffers[i];
                }
                NDArray delta = g.mul(lr);
                delta.attach(scope);
                w.subi(delta);
                grad.subi(grad); // zero_grad: the handle shares the parameter's gradient storage
            }
        }
    }

    @Override
    public void close() {
        state.close();
    }
}
