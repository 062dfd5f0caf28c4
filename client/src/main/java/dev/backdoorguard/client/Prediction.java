package dev.backdoorguard.client;

import java.util.List;
import java.util.Objects;

/**
 * The answer to one inference call: one {@link ItemResult} per item plus the response's guard parameters.
 *
 * @param model the model that answered
 * @param version the version that answered
 * @param items per-item results, in request order
 * @param suspicious {@code guard.suspicious}: whether any item was flagged
 * @param action {@code guard.action} ({@code pass|flag|block}), or empty if the server sent none
 * @param detector {@code guard.detector} (e.g. {@code critical-layer} or {@code none}), or empty
 */
public record Prediction(
        String model, String version, List<ItemResult> items, boolean suspicious, String action, String detector) {

    public Prediction {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(version, "version");
        items = List.copyOf(items);
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(detector, "detector");
    }

    /** How many items the detector flagged. */
    public long flaggedCount() {
        return items.stream().filter(ItemResult::flagged).count();
    }
}
