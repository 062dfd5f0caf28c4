package dev.backdoorguard.offline.purify;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * What a purifier did: its configuration and method-specific details, for report.json, and extra
 * files for the output bundle (training curves as PNG), by file name.
 */
public record PurificationReport(String method, ObjectNode config, ObjectNode details, String summary,
        Map<String, byte[]> files) {
    public PurificationReport {
        files = Map.copyOf(files);
    }

    public PurificationReport(String method, ObjectNode config, ObjectNode details, String summary) {
        this(method, config, details, summary, Map.of());
    }
}
