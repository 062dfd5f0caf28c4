package dev.backdoorguard.offline.purify.seam;

import dev.backdoorguard.offline.train.TrainingLoop;
import java.util.Locale;

/**
 * How SEAM's forget phase draws the random label of an image, fresh every time the image is batched
 * (specs/dhbe-seam.md §B.9 item 2): the official CIFAR code excludes the true label, the TrojAI and
 * TrojanZoo versions draw uniformly over all K classes.
 */
public enum LabelSampling {
    /** Uniform over the K − 1 wrong classes (the official CIFAR code; the default). */
    EXCLUDE_TRUE,
    /** Uniform over all K classes, the true one included (TrojAI / TrojanZoo variants). */
    INCLUDE_TRUE;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static LabelSampling parse(String s) {
        for (LabelSampling v : values()) {
            if (v.cliName().equals(s)) {
                return v;
            }
        }
        throw new IllegalArgumentException("--random-labels must be exclude-true or include-true, got '" + s + "'");
    }

    /** The relabelling for {@code numClasses} classes; each call draws a new label. */
    public TrainingLoop.Relabel relabel(int numClasses) {
        if (numClasses < 2) {
            throw new IllegalArgumentException("random labels need at least 2 classes, got " + numClasses);
        }
        return switch (this) {
            case EXCLUDE_TRUE -> (label, random) -> {
                int r = random.nextInt(numClasses - 1); // r + 1 skips the true label, keeping the rest uniform
                return r >= label ? r + 1 : r;
            };
            case INCLUDE_TRUE -> (label, random) -> random.nextInt(numClasses);
        };
    }
}
