package dev.backdoorguard.client;

import java.util.List;
import java.util.Optional;

/**
 * ModelMetadata of one served model.
 *
 * @param name model name
 * @param versions available versions
 * @param platform platform string, e.g. {@code pytorch_safetensors}
 * @param inputs input tensors
 * @param outputs output tensors
 */
public record ModelInfo(
        String name, List<String> versions, String platform, List<TensorInfo> inputs, List<TensorInfo> outputs) {

    public ModelInfo {
        versions = List.copyOf(versions);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** The image shape [C,H,W] of the first 4-dimensional input (the batch dimension dropped), if any. */
    public Optional<int[]> imageShape() {
        for (TensorInfo input : inputs) {
            List<Long> shape = input.shape();
            if (shape.size() == 4 && shape.get(1) > 0 && shape.get(2) > 0 && shape.get(3) > 0) {
                return Optional.of(new int[] {
                    Math.toIntExact(shape.get(1)), Math.toIntExact(shape.get(2)), Math.toIntExact(shape.get(3))
                });
            }
        }
        return Optional.empty();
    }

    /** The number of classes K, from the {@code probabilities} or {@code logits} output [-1,K], if declared. */
    public Optional<Integer> numClasses() {
        for (TensorInfo output : outputs) {
            if ((output.name().equals("probabilities") || output.name().equals("logits"))
                    && output.shape().size() == 2 && output.shape().get(1) > 0) {
                return Optional.of(Math.toIntExact(output.shape().get(1)));
            }
        }
        return Optional.empty();
    }
}
