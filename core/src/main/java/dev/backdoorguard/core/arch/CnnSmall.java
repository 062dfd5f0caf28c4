package dev.backdoorguard.core.arch;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code cnn-small}: two conv-BN-ReLU pairs per stage, two stages with max-pooling, global average
 * pooling and a 64-128-K classifier (DESIGN.md §4). The fast model for tests and CPU benchmarks.
 */
final class CnnSmall extends TorchNetwork {
    static final List<String> TAPS =
            List.of("features.2", "features.5", "features.9", "features.12", "avgpool", "classifier.1", "logits");
    static final List<ConvBnPair> PAIRS = List.of(
            new ConvBnPair("features.0", "features.1"),
            new ConvBnPair("features.3", "features.4"),
            new ConvBnPair("features.7", "features.8"),
            new ConvBnPair("features.10", "features.11"));
    static final String HEAD = "classifier.2";
    static final int HEAD_INPUTS = 128;

    CnnSmall(int channels, int numClasses) {
        super(numClasses);
        addConv("features.0", channels, 32, 3, true);
        addBatchNorm("features.1", 32);
        addConv("features.3", 32, 32, 3, true);
        addBatchNorm("features.4", 32);
        addConv("features.7", 32, 64, 3, true);
        addBatchNorm("features.8", 64);
        addConv("features.10", 64, 64, 3, true);
        addBatchNorm("features.11", 64);
        addLinear("classifier.0", 64, HEAD_INPUTS);
        addLinear(HEAD, HEAD_INPUTS, numClasses);
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, TapRecorder taps) {
        List<String> relus = new ArrayList<>(List.of("features.2", "features.5", "features.9", "features.12"));
        for (ConvBnPair pair : PAIRS) {
            NDArray convolved = conv(pair.conv(), x, 1, 1);
            if (pair == PAIRS.get(0)) {
                convolved = trainingLayout(convolved);
            }
            x = relu(batchNorm(pair.bn(), convolved, training, taps));
            String tap = relus.remove(0);
            taps.offer(tap, x);
            if (tap.equals("features.5") || tap.equals("features.12")) {
                x = maxPool2(x);
            }
        }
        x = adaptiveAvgPool(x);
        taps.offer("avgpool", x);
        x = relu(linear("classifier.0", flatten(x)));
        taps.offer("classifier.1", x);
        return linear(HEAD, x);
    }
}
