package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the data set comes from (shared by every command that reads data). */
public final class DataOptions {
    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Data set directory: IDX files (train-/t10k-images-idx3-ubyte[.gz] ...) or train/ and test/"
                    + " image folders. Default: $" + Datasets.DATA_DIR_ENV + ", else "
                    + "/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).")
    Path dataDir;

    public Path directory() {
        return Datasets.resolveDirectory(dataDir, System.getenv());
    }

    public ImageDataset load(Datasets.Split split, int numClasses) throws IOException {
        return Datasets.load(directory(), split, numClasses);
    }
}
