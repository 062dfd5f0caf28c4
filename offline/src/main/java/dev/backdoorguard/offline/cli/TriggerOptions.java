package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.core.trigger.Triggers;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The trigger's seed and optional pattern image (the trigger name and target are per command). */
public final class TriggerOptions {
    // No picocli default: a seed given without a trigger must be told from none given.
    @Option(names = "--trigger-seed", paramLabel = "N",
            description = "Seed of the blended noise pattern and the WaNet warping field (default: "
                    + Triggers.DEFAULT_SEED + ").")
    Long seed;

    @Option(names = "--trigger-image", paramLabel = "FILE",
            description = "For blended: blend this image instead of the seeded noise pattern.")
    Path image;

    public Trigger create(String name, int[] shape) throws IOException {
        return Triggers.create(name, seed(), image, shape);
    }

    long seed() {
        return seed == null ? Triggers.DEFAULT_SEED : seed;
    }

    /**
     * Refuses these options when the command has no trigger to apply them to ({@code trigger} is null):
     * ignored, they would look used. {@code triggerOption} names the command's trigger option.
     */
    void checkApplied(String trigger, String triggerOption) {
        if (trigger != null) {
            return;
        }
        if (image != null) {
            throw new IllegalArgumentException("--trigger-image applies to " + triggerOption
                    + " blended only, and no " + triggerOption + " was given");
        }
        if (seed != null) {
            throw new IllegalArgumentException("--trigger-seed applies to " + triggerOption + " (blended or wanet)"
                    + " only, and no " + triggerOption + " was given");
        }
    }
}
