package dev.backdoorguard.client;

import java.util.List;

/**
 * One input or output as ModelMetadata describes it.
 *
 * @param name tensor name
 * @param datatype wire datatype, e.g. FP32
 * @param shape dimensions, -1 for a variable one (the batch)
 */
public record TensorInfo(String name, String datatype, List<Long> shape) {
    public TensorInfo {
        shape = List.copyOf(shape);
    }
}
