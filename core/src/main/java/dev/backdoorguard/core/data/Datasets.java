package dev.backdoorguard.core.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Locates and loads the data sets of DESIGN.md §5: IDX directories (Fashion-MNIST by default, from
 * Debian's {@code dataset-fashion-mnist}) and image folders. Nothing is ever downloaded.
 */
public final class Datasets {
    /** Where Debian's dataset-fashion-mnist package installs the IDX files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");
    /** Environment variable naming another data directory. */
    public static final String DATA_DIR_ENV = "GUARD_DATA_DIR";

    public enum Split {
        TRAIN("train"),
        TEST("t10k");

        final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }
    }

    private Datasets() {}

    /** The data directory: the option if given, else {@code $GUARD_DATA_DIR}, else Debian's path. */
    public static Path resolveDirectory(Path option, Map<String, String> env) {
        if (option != null) {
            return option;
        }
        String fromEnv = env.get(DATA_DIR_ENV);
        return fromEnv != null && !fromEnv.isBlank() ? Path.of(fromEnv) : DEBIAN_FASHION_MNIST;
    }

    /**
     * Loads one split of a directory: IDX files ({@code train-images-idx3-ubyte[.gz]} …) when present,
     * otherwise an image folder at {@code <dir>/train} or {@code <dir>/test}.
     */
    public static ImageDataset load(Path dir, Split split, int numClasses) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new DataException(dir + ": data directory not found (install Debian's dataset-fashion-mnist, or pass"
                    + " --data-dir / set " + DATA_DIR_ENV + ")");
        }
        Path images = firstExisting(dir, split.prefix + "-images-idx3-ubyte");
        Path labels = firstExisting(dir, split.prefix + "-labels-idx1-ubyte");
        if (images != null && labels != null) {
            return fromIdx(images, labels, numClasses);
        }
        Path folder = dir.resolve(split == Split.TRAIN ? "train" : "test");
        if (Files.isDirectory(folder)) {
            return ImageFolder.read(folder, 1);
        }
        throw new DataException(dir + ": no " + split.prefix + "-images-idx3-ubyte[.gz] / " + split.prefix
                + "-labels-idx1-ubyte[.gz] files and no " + folder.getFileName() + "/ image folder");
    }

    static ImageDataset fromIdx(Path imagesFile, Path labelsFile, int numClasses) throws IOException {
        IdxFiles.Images images = IdxFiles.readImages(imagesFile);
        int[] labels = IdxFiles.readLabels(labelsFile);
        if (labels.length != images.count()) {
            throw new DataException(labelsFile + " has " + labels.length + " labels but " + imagesFile + " has "
                    + images.count() + " images");
        }
        float[] pixels = new float[images.data().length];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (images.data()[i] & 0xff) / 255f;
        }
        for (int label : labels) {
            if (label >= numClasses) {
                throw new DataException(labelsFile + ": label " + label + " >= " + numClasses + " classes");
            }
        }
        return new ImageDataset(1, images.rows(), images.cols(), numClasses, pixels, labels);
    }

    private static Path firstExisting(Path dir, String base) {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }
}
