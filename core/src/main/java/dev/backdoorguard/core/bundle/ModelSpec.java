package dev.backdoorguard.core.bundle;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.List;

/**
 * The contents of {@code model.json} (DESIGN.md §3): architecture, input shape (C, H, W), class
 * count, normalisation, labels, optional ResNet width and free-form provenance.
 */
public record ModelSpec(
        String architecture,
        int[] inputShape,
        int numClasses,
        float[] mean,
        float[] std,
        List<String> labels,
        Integer width,
        ObjectNode provenance) {

    public static final int FORMAT = 1;
    public static final int DEFAULT_WIDTH = 64;

    public ModelSpec {
        if (architecture == null || architecture.isBlank()) {
            throw new IllegalArgumentException("model.json: 'architecture' is missing");
        }
        if (inputShape == null || inputShape.length != 3 || Arrays.stream(inputShape).anyMatch(d -> d < 1 || d > 4096)) {
            throw new IllegalArgumentException("model.json: 'input_shape' must be [C, H, W] with positive sizes, got "
                    + Arrays.toString(inputShape));
        }
        if (numClasses < 2) {
            throw new IllegalArgumentException("model.json: 'num_classes' must be >= 2, got " + numClasses);
        }
        int channels = inputShape[0];
        if (mean == null || std == null || mean.length != channels || std.length != channels) {
            throw new IllegalArgumentException("model.json: 'normalize' needs one mean and one std per channel ("
                    + channels + "), got mean " + Arrays.toString(mean) + " std " + Arrays.toString(std));
        }
        for (int c = 0; c < channels; c++) {
            if (!(std[c] > 0) || !Float.isFinite(std[c]) || !Float.isFinite(mean[c])) {
                throw new IllegalArgumentException("model.json: 'normalize' std must be finite and > 0 and mean finite,"
                        + " got mean " + mean[c] + " std " + std[c] + " for channel " + c);
            }
        }
        labels = labels == null ? List.of() : List.copyOf(labels);
        if (!labels.isEmpty() && labels.size() != numClasses) {
            throw new IllegalArgumentException("model.json: 'labels' has " + labels.size() + " names for "
                    + numClasses + " classes");
        }
        if (width != null && width < 1) {
            throw new IllegalArgumentException("model.json: 'width' must be >= 1, got " + width);
        }
        inputShape = inputShape.clone();
        mean = mean.clone();
        std = std.clone();
        provenance = provenance == null ? JsonNodeFactory.instance.objectNode() : provenance.deepCopy();
    }

    public int channels() {
        return inputShape[0];
    }

    public int height() {
        return inputShape[1];
    }

    public int imageWidth() {
        return inputShape[2];
    }

    /** The ResNet width, or the default 64 when model.json does not set it. */
    public int widthOrDefault() {
        return width == null ? DEFAULT_WIDTH : width;
    }

    /** Pixels per image, C·H·W. */
    public int imageSize() {
        return inputShape[0] * inputShape[1] * inputShape[2];
    }

    /** The label of class {@code k}, or its number when the bundle names no labels. */
    public String label(int k) {
        return labels.isEmpty() ? Integer.toString(k) : labels.get(k);
    }

    public ModelSpec withProvenance(ObjectNode newProvenance) {
        return new ModelSpec(architecture, inputShape, numClasses, mean, std, labels, width, newProvenance);
    }
}
