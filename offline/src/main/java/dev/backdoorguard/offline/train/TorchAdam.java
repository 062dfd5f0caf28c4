package dev.backdoorguard.offline.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * Adam with {@code torch.optim.Adam}'s update rule (coupled L2 weight decay, no AMSGrad):
 * {@code g = grad + wd·w; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
 * w -= lr·m̂ / (√v̂ + ε)} with {@code m̂ = m/(1-β1^t)}, {@code v̂ = v/(1-β2^t)}.
 *
 * <p>The update runs in DJL's fused native kernel, which computes {@code w -= lr'·m / (√v + ε')}.
 * Passing {@code lr' = lr·√(1-β2^t)/(1-β1^t)} and {@code ε' = ε·√(1-β2^t)} makes that exactly
 * PyTorch's rule (DJL's own {@code Adam} passes ε unscaled, so ε enters before the bias correction).
 * Gradients are zeroed after each step.
 */
public final class TorchAdam implements AutoCloseable {
    private final List<Parameter> parameters;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final NDManager state;
    private final NDArray[] means;
    private final NDArray[] variances;
    private long steps;

    /** {@code torch.optim.Adam(params, betas=(beta1, beta2), eps=1e-8, weight_decay=weightDecay)}. */
    public TorchAdam(List<Parameter> trainable, double beta1, double beta2, double weightDecay, NDManager parent) {
        this(trainable, beta1, beta2, 1e-8, weightDecay, parent);
    }

    public TorchAdam(List<Parameter> trainable, double beta1, double beta2, double epsilon, double weightDecay,
            NDManager parent) {
        requireRange("beta1", beta1);
        requireRange("beta2", beta2);
        if (!(epsilon > 0) || Double.isInfinite(epsilon)) {
            throw new IllegalArgumentException("epsilon must be finite and > 0, got " + epsilon);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be finite and >= 0, got " + weightDecay);
        }
        this.parameters = new ArrayList<>(trainable);
        this.beta1 = (float) beta1;
        this.beta2 = (float) beta2;
        this.epsilon = (float) epsilon;
        this.weightDecay = (float) weightDecay;
        this.state = parent.newSubManager();
        this.means = new NDArray[parameters.size()];
        this.variances = new NDArray[parameters.size()];
    }

    private static void requireRange(String name, double beta) {
        if (!(beta >= 0 && beta < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + beta);
        }
    }

    /** The number of steps taken so far (PyTorch's {@code state['step']}). */
    public long steps() {
        return steps;
    }

    /** One update of every parameter with learning rate {@code lr}; call outside a gradient collector. */
    public void step(double lr) {
        if (JniUtils.isGradMode()) {
            throw new IllegalStateException("optimizer step inside a gradient collector (grad mode is on)");
        }
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        steps++;
        double correction2 = Math.sqrt(1 - Math.pow(beta2, steps));
        float fusedLr = (float) (lr * correction2 / (1 - Math.pow(beta1, steps)));
        float fusedEpsilon = (float) (epsilon * correction2);
        for (int i = 0; i < parameters.size(); i++) {
            PtNDArray w = (PtNDArray) parameters.get(i).getArray();
            if (means[i] == null) {
                means[i] = state.zeros(w.getShape(), w.getDataType());
                variances[i] = state.zeros(w.getShape(), w.getDataType());
            }
            try (PtNDArray grad = JniUtils.getGradient(w)) {
                JniUtils.adamUpdate(w, grad, (PtNDArray) means[i], (PtNDArray) variances[i], (float) lr, fusedLr,
                        weightDecay, 1f, -1f, beta1, beta2, fusedEpsilon, false);
            }
            JniUtils.zeroGrad(w);
        }
    }

    /** The optimiser's state for a checkpoint: the step count and each parameter's m and v (null before the first step). */
    public record State(long steps, List<float[]> means, List<float[]> variances) {
        public State {
            if (means.size() != variances.size()) {
                throw new IllegalArgumentException("Adam state has " + means.size() + " means and " + variances.size()
                        + " variances");
            }
            means = java.util.Collections.unmodifiableList(new ArrayList<>(means));
            variances = java.util.Collections.unmodifiableList(new ArrayList<>(variances));
        }
    }

    public State exportState() {
        List<float[]> m = new ArrayList<>();
        List<float[]> v = new ArrayList<>();
        for (int i = 0; i < parameters.size(); i++) {
            m.add(means[i] == null ? null : means[i].toFloatArray());
            v.add(variances[i] == null ? null : variances[i].toFloatArray());
        }
        return new State(steps, m, v);
    }

    /** Restores {@link #exportState()}'s output; the moments must match the parameters one to one. */
    public void importState(State saved) {
        if (saved.means().size() != parameters.size() || saved.steps() < 0) {
            throw new IllegalArgumentException("Adam state has " + saved.means().size() + " moments for "
                    + parameters.size() + " parameters (step " + saved.steps() + ")");
        }
        for (int i = 0; i < parameters.size(); i++) {
            long n = parameters.get(i).getArray().size();
            float[] m = saved.means().get(i);
            float[] v = saved.variances().get(i);
            if ((m == null) != (v == null) || (m != null && (m.length != n || v.length != n))) {
                throw new IllegalArgumentException("Adam moments " + i + " do not match their parameter (" + n
                        + " values)");
            }
        }
        for (int i = 0; i < parameters.size(); i++) {
            if (means[i] != null) {
                means[i].close();
                variances[i].close();
                means[i] = null;
                variances[i] = null;
            }
            float[] m = saved.means().get(i);
            if (m != null) {
                ai.djl.ndarray.types.Shape shape = parameters.get(i).getArray().getShape();
                means[i] = state.create(m, shape);
                variances[i] = state.create(saved.variances().get(i), shape);
            }
        }
        steps = saved.steps();
    }

    @Override
    public void close() {
        state.close();
    }
}
