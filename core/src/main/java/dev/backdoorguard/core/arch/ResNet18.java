package dev.backdoorguard.core.arch;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code resnet18}: the CIFAR ResNet-18 of the FST and CLP reference code (BasicBlocks, 3x3 stem
 * with stride 1), with a configurable width and adaptive average pooling (DESIGN.md §4).
 */
final class ResNet18 extends TorchNetwork {
    private final List<Block> blocks = new ArrayList<>();

    private record Block(String prefix, int stride, boolean projection) {}

    ResNet18(int channels, int numClasses, int width) {
        super(numClasses);
        addConv("conv1", channels, width, 3, false);
        addBatchNorm("bn1", width);
        int in = width;
        for (int stage = 1; stage <= 4; stage++) {
            int planes = width << (stage - 1);
            for (int i = 0; i < 2; i++) {
                int stride = (i == 0 && stage > 1) ? 2 : 1;
                String prefix = "layer" + stage + "." + i;
                boolean projection = stride != 1 || in != planes;
                addConv(prefix + ".conv1", in, planes, 3, false);
                addBatchNorm(prefix + ".bn1", planes);
                addConv(prefix + ".conv2", planes, planes, 3, false);
                addBatchNorm(prefix + ".bn2", planes);
                if (projection) {
                    addConv(prefix + ".shortcut.0", in, planes, 1, false);
                    addBatchNorm(prefix + ".shortcut.1", planes);
                }
                blocks.add(new Block(prefix, stride, projection));
                in = planes;
            }
        }
        addLinear("linear", 8 * width, numClasses);
    }

    /** The eight residual blocks' PyTorch prefixes, layer1.0 … layer4.1. */
    static List<String> blockNames() {
        List<String> names = new ArrayList<>();
        for (int stage = 1; stage <= 4; stage++) {
            names.add("layer" + stage + ".0");
            names.add("layer" + stage + ".1");
        }
        return names;
    }

    static List<String> taps() {
        List<String> taps = new ArrayList<>(List.of("stem"));
        taps.addAll(blockNames());
        taps.add("logits");
        return taps;
    }

    /** Every conv with the BN that directly follows it, shortcuts included: 20 pairs. */
    static List<ConvBnPair> pairs() {
        List<ConvBnPair> pairs = new ArrayList<>(List.of(new ConvBnPair("conv1", "bn1")));
        for (String b : blockNames()) {
            pairs.add(new ConvBnPair(b + ".conv1", b + ".bn1"));
            pairs.add(new ConvBnPair(b + ".conv2", b + ".bn2"));
            if (!b.endsWith(".1") && !b.equals("layer1.0")) {
                pairs.add(new ConvBnPair(b + ".shortcut.0", b + ".shortcut.1"));
            }
        }
        return pairs;
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, TapRecorder taps) {
        x = relu(batchNorm("bn1", trainingLayout(conv("conv1", x, 1, 1)), training, taps));
        taps.offer("stem", x);
        for (Block b : blocks) {
            NDArray o = conv(b.prefix() + ".conv1", x, b.stride(), 1);
            o = relu(batchNorm(b.prefix() + ".bn1", o, training, taps));
            o = batchNorm(b.prefix() + ".bn2", conv(b.prefix() + ".conv2", o, 1, 1), training, taps);
            NDArray shortcut = b.projection()
                    ? batchNorm(b.prefix() + ".shortcut.1", conv(b.prefix() + ".shortcut.0", x, b.stride(), 0), training,
                            taps)
                    : x;
            x = relu(o.add(shortcut));
            taps.offer(b.prefix(), x);
        }
        return linear("linear", flatten(adaptiveAvgPool(x)));
    }
}
