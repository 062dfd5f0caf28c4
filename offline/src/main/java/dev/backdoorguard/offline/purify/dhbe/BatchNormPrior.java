package dev.backdoorguard.offline.purify.dhbe;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import dev.backdoorguard.core.arch.TapRecorder;
import java.util.Map;

/**
 * Collects R_bn = Σ_l ‖μ_l − running_mean_l‖₂ + ‖σ²_l − running_var_l‖₂ over a network's BatchNorm
 * layers during one of its forward passes: μ_l and σ²_l are the per-channel batch mean and population
 * variance of the layer's input, compared with the statistics the network learnt on its training data
 * (DeepInversion's feature regulariser; DHBE's {@code --bn-prior} and {@code --generator-warmup}
 * deviations). The result stays on the autograd graph of the inputs.
 */
final class BatchNormPrior implements TapRecorder {
    private final Map<String, Parameter> statistics;
    private NDArray total;

    /** @param statistics the network's parameters by PyTorch name (its {@code <layer>.running_mean/var}) */
    BatchNormPrior(Map<String, Parameter> statistics) {
        this.statistics = statistics;
    }

    @Override
    public void offer(String tap, NDArray activation) {}

    @Override
    public void offerBatchNormInput(String layer, NDArray input) {
        // channels first, everything else flattened: [C, N·H·W] (DJL's mean over several axes is not
        // supported on this engine)
        int dims = input.getShape().dimension();
        int[] order = new int[dims];
        order[0] = 1;
        for (int d = 1; d < dims; d++) {
            order[d] = d == 1 ? 0 : d;
        }
        NDArray perChannel = input.transpose(order).reshape(input.getShape().get(1), -1);
        NDArray mu = perChannel.mean(new int[] {1}, true);
        NDArray var = perChannel.sub(mu).square().mean(new int[] {1});
        NDArray term = DhbeTrainer.norm(mu.reshape(-1).sub(statistic(layer, "running_mean")))
                .add(DhbeTrainer.norm(var.sub(statistic(layer, "running_var"))));
        total = total == null ? term : total.add(term);
    }

    private NDArray statistic(String layer, String kind) {
        Parameter p = statistics.get(layer + "." + kind);
        if (p == null) {
            throw new IllegalArgumentException("BatchNorm layer " + layer + " has no " + kind);
        }
        return p.getArray();
    }

    /** R_bn of the forward pass just run (a scalar array). */
    NDArray total() {
        if (total == null) {
            throw new IllegalStateException("the network has no BatchNorm layer: --bn-prior and --generator-warmup"
                    + " need one");
        }
        return total;
    }
}
