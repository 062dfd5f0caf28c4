package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.core.trigger.Triggers;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The trigger's seed and optional pattern image (the trigger name and target are per command). */
public final class TriggerOptions {
    @Option(names = "--trigger-seed", defaultValue = "0", paramLabel = "N",
            description = "Seed of the blended noise pattern and the WaNet warping field (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--trigger-image", paramLabel = "FILE",
            description = "For blended: blend this image instead of the seeded noise pattern.")
    Path image;

    public Trigger create(String name, int[] shape) throws IOException {
        return Triggers.create(name, seed, image, shape);
    }
}
