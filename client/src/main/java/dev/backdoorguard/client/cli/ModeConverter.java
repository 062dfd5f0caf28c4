package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.GuardMode;
import picocli.CommandLine;

/** {@code --mode off|flag|block}. */
final class ModeConverter implements CommandLine.ITypeConverter<GuardMode> {
    @Override
    public GuardMode convert(String value) {
        try {
            return GuardMode.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
