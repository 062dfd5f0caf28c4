package dev.backdoorguard.core.arch;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code preact-resnet18}: BackdoorBench's PreAct ResNet-18 with a configurable width w (stages of
 * w, 2w, 4w, 8w planes) and no final BN (DESIGN.md §4).
 */
final class PreActResNet18 extends TorchNetwork {
    private final List<Block> blocks = new ArrayList<>();

    /** One PreActBlock: its PyTorch prefix, stride and whether it has a 1x1 shortcut conv. */
    private record Block(String prefix, int stride, boolean projection) {}

    PreActResNet18(int channels, int numClasses, int width) {
        super(numClasses);
        addConv("conv1", channels, width, 3, false);
        int in = width;
        for (int stage = 1; stage <= 4; stage++) {
            int planes = width << (stage - 1);
            for (int i = 0; i < 2; i++) {
                int stride = (i == 0 && stage > 1) ? 2 : 1;
                String prefix = "layer" + stage + "." + i;
                boolean projection = stride != 1 || in != planes;
                addBatchNorm(prefix + ".bn1", in);
                addConv(prefix + ".conv1", in, planes, 3, false);
                addBatchNorm(prefix + ".bn2", planes);
                addConv(prefix + ".conv2", planes, planes, 3, false);
                if (projection) {
                    addConv(prefix + ".shortcut.0", in, planes, 1, false);
                }
                blocks.add(new Block(prefix, stride, projection));
                in = planes;
            }
        }
        addLinear("linear", 8 * width, numClasses);
    }

    static List<String> taps() {
        List<String> taps = new ArrayList<>(List.of("conv1"));
        taps.addAll(ResNet18.blockNames());
        taps.add("logits");
        return taps;
    }

    static List<ConvBnPair> pairs() {
        return ResNet18.blockNames().stream().map(b -> new ConvBnPair(b + ".conv1", b + ".bn2")).toList();
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, TapRecorder taps) {
        x = trainingLayout(conv("conv1", x, 1, 1));
        taps.offer("conv1", x);
        for (Block b : blocks) {
            NDArray o = relu(batchNorm(b.prefix() + ".bn1", x, training, taps));
            NDArray shortcut = b.projection() ? conv(b.prefix() + ".shortcut.0", o, b.stride(), 0) : x;
            o = conv(b.prefix() + ".conv1", o, b.stride(), 1);
            o = conv(b.prefix() + ".conv2", relu(batchNorm(b.prefix() + ".bn2", o, training, taps)), 1, 1);
            x = o.add(shortcut);
            taps.offer(b.prefix(), x);
        }
        return linear("linear", flatten(adaptiveAvgPool(x)));
    }
}
