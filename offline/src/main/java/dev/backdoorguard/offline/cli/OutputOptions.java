package dev.backdoorguard.offline.cli;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The output bundle of every command that writes one, and how its figures are printed. */
public final class OutputOptions {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The bundle directory to write.")
    Path out;

    @Option(names = "--force", description = "Replace --out if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print one JSON object instead of the human summary.")
    boolean json;

    /** Refuses an existing --out without --force, before any work is done. */
    void checkFree() throws FileAlreadyExistsException {
        if (Files.exists(out) && !force) {
            throw new FileAlreadyExistsException(out + " already exists (use --force to replace it)");
        }
    }
}
