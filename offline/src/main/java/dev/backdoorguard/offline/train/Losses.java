package dev.backdoorguard.offline.train;

import ai.djl.ndarray.NDArray;

/** Loss functions with PyTorch's definitions. */
public final class Losses {
    private Losses() {}

    /** {@code nn.CrossEntropyLoss()}: mean over the batch of -log softmax(logits)[label]. */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        int classes = (int) logits.getShape().get(1);
        return logits.logSoftmax(1).mul(labels.oneHot(classes)).sum(new int[] {1}).neg().mean();
    }
}
