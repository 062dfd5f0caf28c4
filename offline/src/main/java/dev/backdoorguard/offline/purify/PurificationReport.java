package dev.backdoorguard.offline.purify;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** What a purifier did: its configuration and method-specific details, for report.json. */
public record PurificationReport(String method, ObjectNode config, ObjectNode details, String summary) {}
