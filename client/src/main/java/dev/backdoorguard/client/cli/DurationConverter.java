package dev.backdoorguard.client.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the durations the CLI accepts: {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}, or ISO-8601. A negative
 * value parses, so that the option's own check says what is wrong with it ("must be positive") rather than "not a
 * duration".
 */
final class DurationConverter {
    private static final Pattern SIMPLE = Pattern.compile("(-?\\d+(?:\\.\\d+)?)(ms|s|m|h)");

    private DurationConverter() {}

    static Duration parse(String text) {
        String trimmed = text.trim().toLowerCase(java.util.Locale.ROOT);
        Matcher matcher = SIMPLE.matcher(trimmed);
        if (matcher.matches()) {
            double value = Double.parseDouble(matcher.group(1));
            double millis = switch (matcher.group(2)) {
                case "ms" -> value;
                case "s" -> value * 1_000;
                case "m" -> value * 60_000;
                default -> value * 3_600_000;
            };
            return Duration.ofMillis(Math.round(millis));
        }
        try {
            return Duration.parse(text.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (java.time.format.DateTimeParseException e) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (use e.g. 500ms, 30s, 2m)");
        }
    }
}
