package dev.backdoorguard.server;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code GUARD_*} settings of {@code guard serve}, keyed by variable name, and where each came from:
 * a flag wins over its environment variable. Errors name what the user wrote: the variable for a value
 * from the environment, else the flag.
 */
final class Settings {
    /*
     * What to serve has two halves, a model or a repository. A flag of one half drops the environment's
     * other half: the container's image sets GUARD_MODEL_REPOSITORY, and `guard serve --model DIR` in it
     * must still work. Two flags, or two variables, stay a conflict.
     */
    private static final List<String> MODEL_HALF = List.of("GUARD_MODEL", "GUARD_MODEL_NAME");
    private static final List<String> REPOSITORY_HALF = List.of("GUARD_MODEL_REPOSITORY", "GUARD_WATCH_INTERVAL_MS");

    private final Map<String, String> values = new HashMap<>();
    private final Set<String> fromEnvironment = new HashSet<>();

    /** {@code flags} holds the flags given, keyed by their variable's name. */
    Settings(Map<String, String> environment, Map<String, String> flags) {
        Map<String, String> env = new HashMap<>(environment);
        if (given(flags, "GUARD_MODEL")) {
            REPOSITORY_HALF.forEach(env::remove);
        }
        if (given(flags, "GUARD_MODEL_REPOSITORY")) {
            MODEL_HALF.forEach(env::remove);
        }
        values.putAll(env);
        fromEnvironment.addAll(env.keySet());
        values.putAll(flags);
        fromEnvironment.removeAll(flags.keySet());
    }

    /** No settings: every key is named by its flag (a {@link ServerConfig} built directly has no sources). */
    static Settings none() {
        return new Settings(Map.of(), Map.of());
    }

    /** Settings read from the environment only (tests pass a plain map). */
    static Settings environment(Map<String, String> environment) {
        return new Settings(environment, Map.of());
    }

    /** The value of {@code key}, or null when neither a flag nor the environment gave one (or it is blank). */
    String get(String key) {
        String v = values.get(key);
        return blank(v) ? null : v;
    }

    /** The value of {@code key} as given, blank included (a blank token must be refused, not ignored). */
    String raw(String key) {
        return values.get(key);
    }

    /** How an error names {@code key}: its variable when the environment set it, else its flag. */
    String name(String key) {
        return fromEnvironment.contains(key) ? key : flagOf(key);
    }

    /** The {@code guard serve} flag of a setting: GUARD_MAX_BATCH_DELAY_MS is --max-batch-delay-ms. */
    private static String flagOf(String key) {
        if (key.equals("GUARD_MODE")) {
            return "--guard-mode";  // the one flag not named after its variable
        }
        return "--" + key.substring("GUARD_".length()).toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static boolean given(Map<String, String> flags, String key) {
        return !blank(flags.get(key));
    }

    private static boolean blank(String value) {
        return value == null || value.isBlank();
    }
}
