package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.guard.InvalidInputException;
import java.util.Locale;

/** What the guard does with a request: not run ({@code off}), report ({@code flag}) or refuse ({@code block}). */
public enum GuardMode {
    OFF, FLAG, BLOCK;

    /** Parses {@code off|flag|block} (any case); {@code what} names the setting in the error. */
    public static GuardMode parse(String value, String what) {
        if (value != null) {
            switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "off": return OFF;
                case "flag": return FLAG;
                case "block": return BLOCK;
                default: break;
            }
        }
        throw new InvalidInputException(what + ": expected off|flag|block, got '" + value + "'");
    }
}
