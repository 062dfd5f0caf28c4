package dev.backdoorguard.core.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A DJL block whose parameters are registered directly under their PyTorch {@code state_dict()}
 * names (DESIGN.md §4), so the weights map one-to-one without any name translation. Subclasses
 * register their layers in the constructor and write {@link #forward} with the op helpers.
 *
 * <p>Input: normalised images [N, C, H, W]; output: logits [N, K].
 */
public abstract class TorchNetwork extends AbstractBlock {
    private static final byte VERSION = 1;
    /** DJL's momentum 0.9 is PyTorch's 0.1: the engine passes 1 - momentum to libtorch. */
    private static final float BN_MOMENTUM = 0.9f;
    private static final float BN_EPS = 1e-5f;

    private final int numClasses;
    private final Map<String, Parameter> byName = new LinkedHashMap<>();

    protected TorchNetwork(int numClasses) {
        super(VERSION);
        this.numClasses = numClasses;
    }

    /** Computes the logits, offering every intermediate activation to {@code taps}. */
    protected abstract NDArray forward(NDArray x, boolean training, TapRecorder taps);

    /** Parameters and buffers by PyTorch key, in registration order. */
    public final Map<String, Parameter> parametersByTorchName() {
        return Collections.unmodifiableMap(byName);
    }

    /** Creates and initialises every parameter the PyTorch way (kaiming-uniform a=√5, BN 1/0). */
    public final void initializeParameters(NDManager manager, Shape inputShape) {
        initialize(manager, DataType.FLOAT32, inputShape);
    }

    /**
     * Runs the network and returns the logits, offering every tap to {@code recorder} as it is
     * produced, the logits last (as tap {@code "logits"}).
     */
    public final NDArray forwardRecording(NDArray x, boolean training, TapRecorder recorder) {
        NDArray logits = forward(x, training, recorder);
        recorder.offer("logits", logits);
        return logits;
    }

    /** Runs the network and returns the logits followed by the requested taps, named by tap. */
    public final NDList forwardWithTaps(NDArray x, boolean training, java.util.Collection<String> tapNames) {
        TapRecorder.Recording recording = new TapRecorder.Recording(tapNames);
        NDArray logits = forwardRecording(x, training, recording);
        NDList out = new NDList(logits);
        out.addAll(recording.inOrder());
        return out;
    }

    @Override
    protected final NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(inputs.singletonOrThrow(), training, TapRecorder.NONE));
    }

    @Override
    public final Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), numClasses)};
    }

    // ---- construction -------------------------------------------------------------------------

    protected final void addConv(String name, int in, int out, int kernel, boolean bias) {
        float bound = (float) (1 / Math.sqrt((double) in * kernel * kernel));
        register(name + ".weight", Parameter.Type.WEIGHT, new Shape(out, in, kernel, kernel), uniform(bound), true);
        if (bias) {
            register(name + ".bias", Parameter.Type.BIAS, new Shape(out), uniform(bound), true);
        }
    }

    protected final void addBatchNorm(String name, int channels) {
        Shape shape = new Shape(channels);
        register(name + ".weight", Parameter.Type.GAMMA, shape, Initializer.ONES, true);
        register(name + ".bias", Parameter.Type.BETA, shape, Initializer.ZEROS, true);
        register(name + ".running_mean", Parameter.Type.RUNNING_MEAN, shape, Initializer.ZEROS, false);
        register(name + ".running_var", Parameter.Type.RUNNING_VAR, shape, Initializer.ONES, false);
    }

    protected final void addLinear(String name, int in, int out) {
        float bound = (float) (1 / Math.sqrt(in));
        register(name + ".weight", Parameter.Type.WEIGHT, new Shape(out, in), uniform(bound), true);
        register(name + ".bias", Parameter.Type.BIAS, new Shape(out), uniform(bound), true);
    }

    private void register(String name, Parameter.Type type, Shape shape, Initializer init, boolean grad) {
        Parameter p = Parameter.builder()
                .setName(name)
                .setType(type)
                .optShape(shape)
                .optInitializer(init)
                .optRequiresGrad(grad)
                .build();
        if (byName.putIfAbsent(name, p) != null) {
            throw new IllegalStateException("parameter registered twice: " + name);
        }
        addParameter(p);
    }

    private static Initializer uniform(float bound) {
        return (manager, shape, dataType) -> manager.randomUniform(-bound, bound, shape, dataType);
    }

    // ---- forward helpers ----------------------------------------------------------------------

    protected final NDArray conv(String name, NDArray x, int stride, int pad) {
        Parameter bias = byName.get(name + ".bias");
        return Conv2d.conv2d(
                        x,
                        array(name + ".weight"),
                        bias == null ? null : bias.getArray(),
                        new Shape(stride, stride),
                        new Shape(pad, pad),
                        new Shape(1, 1),
                        1)
                .singletonOrThrow();
    }

    /** BatchNorm layer {@code name} on {@code x}, whose input is first offered to {@code taps}. */
    protected final NDArray batchNorm(String name, NDArray x, boolean training, TapRecorder taps) {
        taps.offerBatchNormInput(name, x);
        return BatchNorm.batchNorm(
                        x,
                        array(name + ".running_mean"),
                        array(name + ".running_var"),
                        array(name + ".weight"),
                        array(name + ".bias"),
                        1,
                        BN_MOMENTUM,
                        BN_EPS,
                        training)
                .singletonOrThrow();
    }

    protected final NDArray linear(String name, NDArray x) {
        return Linear.linear(x, array(name + ".weight"), array(name + ".bias")).singletonOrThrow();
    }

    protected static NDArray relu(NDArray x) {
        return Activation.relu(x);
    }

    /**
     * With grad mode on (a backward pass will follow), {@code x} [N, C, H, W] copied into
     * channels-last memory order (NHWC; same logical shape, same values); with it off, {@code x}
     * itself. libtorch keeps a channels-last layout through the convolutions, batch norms,
     * activations, pools and additions that follow, and its oneDNN convolutions and max-pool train
     * much faster on it: one training step at batch 128, one thread, cnn-small 141 → 124 ms (its
     * forward pass 67 → 38 ms), preact-resnet18 w16 183 → 150 ms (docs/BENCHMARKS.md §2). Without
     * gradients it measured slower (cnn-small's forward at batch 64: 17 → 21 ms), so inference
     * keeps NCHW. Networks call it on their stem convolution's output; converting the one-channel
     * input instead measured slower.
     */
    protected static NDArray trainingLayout(NDArray x) {
        if (!JniUtils.isGradMode()) {
            return x;
        }
        Shape s = x.getShape();
        // reshape(-1) of the permuted view cannot be a view, so libtorch copies it in NHWC order; the
        // last transpose gives back the NCHW shape over that memory (channels-last strides).
        return x.transpose(0, 2, 3, 1).reshape(-1).reshape(s.get(0), s.get(2), s.get(3), s.get(1))
                .transpose(0, 3, 1, 2);
    }

    /**
     * MaxPool2d(2) (floor mode: an odd last row or column is dropped). With grad mode off (inference:
     * evaluation, calibration, serving), it is computed as the element-wise maximum of the four
     * stride-2 views of {@code x}: the same values, about 10× faster than libtorch's NCHW max-pool
     * kernel ([64, 32, 28, 28], one thread: 0.76 against 8.0 ms). With grad mode on, libtorch's own
     * max-pool is kept: the backward pass of the strided views is 2.5× slower, and it would split a
     * tied window's gradient where max-pool gives it to the first maximum, as PyTorch does. (Grad mode
     * is the test because DJL does not report requires_grad for intermediate arrays: both
     * {@code hasGradient()} and {@code JniUtils.requiresGrad} answer false for them during training.)
     */
    protected static NDArray maxPool2(NDArray x) {
        if (JniUtils.isGradMode()) {
            return Pool.maxPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
        }
        long h = x.getShape().get(2) / 2 * 2;
        long w = x.getShape().get(3) / 2 * 2;
        if (h == 0 || w == 0) {
            throw new IllegalArgumentException("a 2×2 max-pool needs at least 2×2 pixels, got " + x.getShape());
        }
        NDArray top = x.get(stride2(0, h, 0, w)).maximum(x.get(stride2(0, h, 1, w)));
        NDArray bottom = x.get(stride2(1, h, 0, w)).maximum(x.get(stride2(1, h, 1, w)));
        return top.maximum(bottom);
    }

    /** Rows row0, row0 + 2, … below h and columns col0, col0 + 2, … below w of [N, C, H, W]. */
    private static NDIndex stride2(long row0, long h, long col0, long w) {
        return new NDIndex(":, :, " + row0 + ":" + h + ":2, " + col0 + ":" + w + ":2");
    }

    /** AdaptiveAvgPool2d(1): [N, C, H, W] to [N, C, 1, 1], as PyTorch shapes it. */
    protected static NDArray adaptiveAvgPool(NDArray x) {
        return Pool.globalAvgPool2d(x).reshape(x.getShape().get(0), x.getShape().get(1), 1, 1);
    }

    protected static NDArray flatten(NDArray x) {
        return x.reshape(x.getShape().get(0), -1);
    }

    private NDArray array(String name) {
        Parameter p = byName.get(name);
        if (p == null) {
            throw new IllegalStateException("no parameter " + name + " in " + getClass().getSimpleName());
        }
        return p.getArray();
    }
}
