package dev.backdoorguard.client;

import java.util.List;
import java.util.Objects;

/**
 * One inference call: the model, the input batch, the guard mode (null: the server's default) and the class names
 * to attach to the answers (empty: names unknown; the inference protocol's ModelMetadata carries no class names).
 *
 * @param model the served model's name
 * @param version the model version, or empty for the server's choice
 * @param batch the input tensor
 * @param mode the {@code guard.mode} request parameter, or null to use the server's default
 * @param labels class names by index, or empty
 */
public record PredictRequest(String model, String version, InputBatch batch, GuardMode mode, List<String> labels) {

    public PredictRequest {
        Objects.requireNonNull(model, "model");
        if (model.isBlank()) {
            throw new IllegalArgumentException("model name is empty");
        }
        version = version == null ? "" : version;
        Objects.requireNonNull(batch, "batch");
        labels = labels == null ? List.of() : List.copyOf(labels);
    }

    /** The latest version of {@code model}, the server's default guard mode, no class names. */
    public static PredictRequest of(String model, InputBatch batch) {
        return new PredictRequest(model, "", batch, null, List.of());
    }

    /** This request with another guard mode. */
    public PredictRequest withMode(GuardMode newMode) {
        return new PredictRequest(model, version, batch, newMode, labels);
    }

    /** This request with class names. */
    public PredictRequest withLabels(List<String> names) {
        return new PredictRequest(model, version, batch, mode, names);
    }
}
