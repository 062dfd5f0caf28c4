package dev.backdoorguard.offline.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Numbers in report.json that may be undefined (a rate over no images, a median of no timings). JSON has no NaN:
 * Jackson would write the string "NaN", which a reader parsing numbers trips over, so an undefined value is null.
 */
public final class JsonNumbers {
    private JsonNumbers() {}

    /** {@code value} under {@code key}, or null when it is NaN or infinite. */
    public static ObjectNode putOrNull(ObjectNode node, String key, double value) {
        return Double.isFinite(value) ? node.put(key, value) : node.putNull(key);
    }

    /** The number under {@code key}, or NaN when it is null or missing: the inverse of {@link #putOrNull}. */
    public static double read(JsonNode node, String key) {
        JsonNode value = node.get(key);
        return value != null && value.isNumber() ? value.asDouble() : Double.NaN;
    }
}
