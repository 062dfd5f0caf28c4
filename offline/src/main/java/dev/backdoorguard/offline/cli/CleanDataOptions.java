package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.offline.purify.PurificationData;
import java.io.IOException;
import picocli.CommandLine.Option;

/**
 * The defender's clean data: a seeded, class-balanced share of the training split (never the test
 * set). With the same --seed and fraction as `guard attack`, it is exactly the set attack held out.
 */
public final class CleanDataOptions {
    @Option(names = "--clean-fraction", defaultValue = "0.02", paramLabel = "F",
            description = "Share of the training split used as clean data, class-balanced, in (0, 1] (default:"
                    + " ${DEFAULT-VALUE}; the same draw `guard attack` held out for the same --seed).")
    double fraction;

    PurificationData load(DataOptions data, int numClasses, long seed) throws IOException {
        return load(data, fraction, numClasses, seed);
    }

    /** The draw for a command whose default share differs (SEAM's 10%). */
    static PurificationData load(DataOptions data, double fraction, int numClasses, long seed) throws IOException {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("--clean-fraction must be in (0, 1], got " + fraction);
        }
        ImageDataset train = data.load(Datasets.Split.TRAIN, numClasses);
        int perClass = Subsets.perClassFor(fraction, train.size(), numClasses);
        Subsets.Split split = Subsets.classBalanced(train.labels(), numClasses, perClass, seed);
        return new PurificationData(train.subset(split.selected()), split.selected(),
                Subsets.indicesHash(split.selected()), train.size());
    }
}
