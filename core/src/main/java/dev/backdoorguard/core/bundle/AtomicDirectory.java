package dev.backdoorguard.core.bundle;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes a directory all at once: files go into a hidden temporary sibling, which is renamed onto
 * the target only when complete, so a crash never leaves a half-written bundle at the target.
 */
public final class AtomicDirectory {
    /** Fills a directory; may throw anything, in which case nothing is published. */
    @FunctionalInterface
    public interface Filler {
        void fill(Path dir) throws IOException;
    }

    private AtomicDirectory() {}

    /**
     * Creates {@code target} with the files {@code filler} writes. An existing target is refused
     * unless {@code replace}, in which case it is swapped out and deleted only after the new one is
     * in place.
     */
    public static void write(Path target, boolean replace, Filler filler) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        if (Files.exists(absolute) && !replace) {
            throw new FileAlreadyExistsException(absolute + " already exists (use --force to replace it)");
        }
        Files.createDirectories(parent);
        if (!Files.isWritable(parent)) {
            throw new AccessDeniedException(parent + " is not writable");
        }
        Path temp = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".tmp-");
        try {
            filler.fill(temp);
            if (Files.exists(absolute)) {
                Path old = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".old-");
                Files.delete(old);
                Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
                deleteRecursively(old);
            } else {
                Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException | RuntimeException e) {
            deleteRecursively(temp);
            throw e;
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
