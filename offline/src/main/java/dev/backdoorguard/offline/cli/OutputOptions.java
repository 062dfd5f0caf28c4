package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.bundle.AtomicDirectory;
import dev.backdoorguard.core.model.Classifier;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/** The output bundle of every command that writes one, and how its figures are printed. */
public final class OutputOptions {
    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "The bundle directory to write (missing parent directories are created).")
    Path out;

    @Option(names = "--force", description = "Replace --out if it exists (it must be a bundle or an empty directory).")
    boolean force;

    @Option(names = "--json", description = "Print one JSON object instead of the human summary.")
    boolean json;

    /**
     * Before any work is done: puts back a bundle a killed run left mid-replacement, then refuses an
     * existing --out without --force, a --force that would delete something that is not a bundle, and
     * a place that cannot be written (the parent is a file, a read-only file system, ...).
     */
    void checkFree() throws IOException {
        AtomicDirectory.recover(out);
        // Not-a-bundle first: suggesting --force for something --force would refuse sends the user in a circle.
        if (Files.exists(out) && !replaceable(out)) {
            throw new IllegalArgumentException("--out " + out + " exists and is not a bundle (no "
                    + Classifier.MODEL_JSON + "): give a new path (--force only replaces a bundle or an empty directory)");
        }
        if (Files.exists(out) && !force) {
            throw new FileAlreadyExistsException(out + " already exists (use --force to replace it)");
        }
        AtomicDirectory.checkWritable(out);
    }

    private static boolean replaceable(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        if (Files.isRegularFile(dir.resolve(Classifier.MODEL_JSON))) {
            return true;
        }
        try (Stream<Path> children = Files.list(dir)) {
            return children.findAny().isEmpty();
        }
    }
}
