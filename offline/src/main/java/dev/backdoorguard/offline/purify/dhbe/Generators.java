package dev.backdoorguard.offline.purify.dhbe;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import dev.backdoorguard.core.arch.TapRecorder;
import dev.backdoorguard.core.arch.TorchNetwork;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * DHBE's two generators (specs/dhbe-seam.md §A.2.2, §A.2.3), with PyTorch's default initialisation
 * (weights and biases U(±1/√fan_in), BN γ = 1, β = 0), seeded. Both run with batch-statistics BN
 * whenever they generate training data ({@code training = true}), as the reference does.
 */
public final class Generators {
    /** The non-affine BN at the end of each generator: γ = 1 and β = 0 are constants, never trained. */
    static final Set<String> FIXED = Set.of("bn_out.weight", "bn_out.bias");

    private Generators() {}

    /** The image side the generator supports: square, divisible by 4 (two ×2 up-samplings). */
    public static void checkImageSize(int height, int width) {
        if (height != width || height % 4 != 0 || height < 4) {
            throw new IllegalArgumentException("DHBE's image generator needs square inputs whose side is divisible by 4"
                    + " (e.g. 28x28 or 32x32), but the model takes " + height + "x" + width);
        }
    }

    /**
     * G: Linear(nz → 2·ngf·s²) → BN → [up ×2 → conv3×3 → BN → LeakyReLU 0.2] ×2 (2·ngf, then ngf
     * channels) → conv3×3(ngf → C) → tanh → BN(affine = false), s = side/4. Its output lives in the
     * classifier's normalised input space.
     */
    public static final class Image extends TorchNetwork {
        private final int ngf;
        private final int init;

        Image(int nz, int ngf, int channels, int side) {
            super(channels);
            checkImageSize(side, side);
            this.ngf = ngf;
            this.init = side / 4;
            addLinear("l1", nz, 2 * ngf * init * init);
            addBatchNorm("bn0", 2 * ngf);
            addConv("conv1", 2 * ngf, 2 * ngf, 3, true);
            addBatchNorm("bn1", 2 * ngf);
            addConv("conv2", 2 * ngf, ngf, 3, true);
            addBatchNorm("bn2", ngf);
            addConv("conv_out", ngf, channels, 3, true);
            addBatchNorm("bn_out", channels);
        }

        /** Images [B, C, side, side] in normalised space from noise [B, nz]. */
        NDArray generate(NDArray z, boolean training) {
            return forward(z, training, TapRecorder.NONE);
        }

        @Override
        protected NDArray forward(NDArray z, boolean training, TapRecorder taps) {
            NDArray x = linear("l1", z).reshape(z.getShape().get(0), 2L * ngf, init, init);
            x = batchNorm("bn0", x, training, taps);
            x = Activation.leakyRelu(batchNorm("bn1", conv("conv1", upsample(x), 1, 1), training, taps), 0.2f);
            x = Activation.leakyRelu(batchNorm("bn2", conv("conv2", upsample(x), 1, 1), training, taps), 0.2f);
            return batchNorm("bn_out", conv("conv_out", x, 1, 1).tanh(), training, taps);
        }
    }

    /**
     * Gp: Linear(nz2 → ngf·P²) → BN → conv3×3(ngf → C) → BN(affine = false) → tanh: a P×P patch in
     * (−1, 1), pixel units.
     */
    public static final class Patch extends TorchNetwork {
        private final int ngf;
        private final int size;

        Patch(int nz, int ngf, int channels, int size) {
            super(channels);
            this.ngf = ngf;
            this.size = size;
            addLinear("l1", nz, ngf * size * size);
            addBatchNorm("bn0", ngf);
            addConv("conv_out", ngf, channels, 3, true);
            addBatchNorm("bn_out", channels);
        }

        /** Patches [B, C, P, P] in (−1, 1) from noise [B, nz2]. */
        NDArray generate(NDArray z, boolean training) {
            return forward(z, training, TapRecorder.NONE);
        }

        @Override
        protected NDArray forward(NDArray z, boolean training, TapRecorder taps) {
            NDArray x = linear("l1", z).reshape(z.getShape().get(0), ngf, size, size);
            x = batchNorm("bn0", x, training, taps);
            return batchNorm("bn_out", conv("conv_out", x, 1, 1), training, taps).tanh();
        }
    }

    static Image image(int nz, int ngf, int channels, int side, NDManager manager, long seed) {
        return initialised(new Image(nz, ngf, channels, side), nz, manager, seed);
    }

    static Patch patch(int nz, int ngf, int channels, int size, NDManager manager, long seed) {
        return initialised(new Patch(nz, ngf, channels, size), nz, manager, seed);
    }

    private static <T extends TorchNetwork> T initialised(T net, int nz, NDManager manager, long seed) {
        Engine.getInstance().setRandomSeed((int) seed);
        net.initializeParameters(manager, new Shape(2, nz));
        for (String name : FIXED) {
            net.parametersByTorchName().get(name).getArray().setRequiresGradient(false);
        }
        return net;
    }

    /** The parameters an optimiser updates: everything with a gradient except the non-affine BN's constants. */
    static List<Parameter> trainable(TorchNetwork net) {
        List<Parameter> out = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : net.parametersByTorchName().entrySet()) {
            if (e.getValue().requiresGradient() && !FIXED.contains(e.getKey())) {
                out.add(e.getValue());
            }
        }
        return out;
    }

    /** Nearest-neighbour ×2 up-sampling: on the PyTorch engine repeat(axis, n) is repeat_interleave. */
    static NDArray upsample(NDArray x) {
        return x.repeat(2, 2).repeat(3, 2);
    }
}
