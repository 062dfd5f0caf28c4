package dev.backdoorguard.server;

import java.util.function.Function;

/**
 * A setting {@link ServerConfig} refuses. Its constructor cannot know whether a value came from a flag or a
 * {@code GUARD_*} variable, so it states the message as a function of the {@link Settings}, which name each
 * key by its source: {@link ServerConfig#from(Settings, java.nio.file.Path)} renders it with the settings it
 * read; a config built directly has no sources, and its message names flags.
 */
final class InvalidSetting extends IllegalArgumentException {
    private final transient Function<Settings, String> message;

    InvalidSetting(Function<Settings, String> message) {
        super(message.apply(Settings.none()));
        this.message = message;
    }

    /** The message with every setting named as {@code settings} name it. */
    String messageIn(Settings settings) {
        return message.apply(settings);
    }
}
