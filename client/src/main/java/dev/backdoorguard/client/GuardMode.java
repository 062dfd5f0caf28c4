package dev.backdoorguard.client;

import java.util.Locale;

/** The request parameter {@code guard.mode}: what the server does with inputs its detector flags. */
public enum GuardMode {
    /** Skip the detector. */
    OFF,
    /** Answer normally and mark flagged items. */
    FLAG,
    /** Fail the whole request with FAILED_PRECONDITION when any item is flagged. */
    BLOCK;

    /** The value on the wire. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code off|flag|block} (any case). */
    public static GuardMode parse(String text) {
        for (GuardMode mode : values()) {
            if (mode.wireName().equalsIgnoreCase(text.trim())) {
                return mode;
            }
        }
        throw new IllegalArgumentException("guard mode must be off, flag or block, got '" + text + "'");
    }
}
