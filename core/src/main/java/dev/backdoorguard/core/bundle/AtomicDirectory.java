package dev.backdoorguard.core.bundle;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a directory all at once: files go into a hidden temporary sibling, which is renamed onto
 * the target only when complete, so a crash never leaves a half-written bundle at the target.
 *
 * <p>Siblings are named {@code .<target>.tmp-<pid>-<n>} (being filled, or being deleted: never
 * trusted) and {@code .<target>.old-<pid>-<n>} (the complete previous version during a replacement).
 * A process killed between the two renames of a replacement leaves the target absent and its
 * previous version under the {@code .old-} name; {@link #recover} puts it back. Siblings of a writer
 * that is no longer running are deleted by {@link #recover}; those of a live process are left alone,
 * so two processes never remove each other's work. The names start with a dot and do not look like a
 * model name or version, so the server's repository scan never takes one for a bundle.
 */
public final class AtomicDirectory {
    /** Fills a directory; may throw anything, in which case nothing is published. */
    @FunctionalInterface
    public interface Filler {
        void fill(Path dir) throws IOException;
    }

    private static final String TMP = ".tmp-";
    private static final String OLD = ".old-";
    private static final Pattern OWNER = Pattern.compile("([0-9]{1,19})-[0-9]+");

    private AtomicDirectory() {}

    /**
     * Creates {@code target} with the files {@code filler} writes. An existing target is refused
     * unless {@code replace}, in which case it is swapped out and deleted only after the new one is
     * in place. A failure to write (full disk, read-only file system, ...) is an IOException naming
     * the target and the reason; nothing is left behind.
     */
    public static void write(Path target, boolean replace, Filler filler) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        recover(absolute);
        if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS) && !replace) {
            throw new FileAlreadyExistsException(absolute + " already exists (use --force to replace it)");
        }
        checkWritable(absolute);
        Path temp;
        try {
            Files.createDirectories(parent);
            temp = createSibling(parent, prefix(absolute, TMP));
        } catch (IOException e) {
            throw failure(absolute, e);
        }
        Path old = null;
        try {
            filler.fill(temp);
            if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
                old = Files.createTempDirectory(parent, prefix(absolute, OLD));
                Files.delete(old);
                Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
                // Until the next rename the target is absent; recover() puts `old` back after a crash here.
                Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
            } else {
                Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            if (old != null && Files.exists(old) && !Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.move(old, absolute, StandardCopyOption.ATOMIC_MOVE); // the swap failed: keep the old one
                } catch (IOException restore) {
                    e.addSuppressed(restore); // recover() puts it back on the next run
                }
            }
            if (e instanceof IOException io) {
                throw failure(absolute, io);
            }
            throw (RuntimeException) e;
        }
        if (old != null) {
            discard(absolute, old);
        }
    }

    /**
     * Fails now, with the path and the reason, where {@link #write} would fail at the end: the
     * nearest existing ancestor of {@code target} is not a directory, or a temporary sibling cannot
     * be created in it (permission, read-only file system, name too long). Creates nothing that
     * outlives the call.
     */
    public static void checkWritable(Path target) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path dir = absolute.getParent();
        while (dir != null && !Files.exists(dir)) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IOException("cannot write " + absolute + ": no existing parent directory");
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("cannot write " + absolute + ": " + dir + " is not a directory");
        }
        try {
            Files.delete(Files.createTempDirectory(dir, prefix(absolute, TMP)));
        } catch (IOException e) {
            throw failure(absolute, e);
        }
    }

    /**
     * Repairs what killed writers of {@code target} left: when the target is absent and exactly one
     * previous version waits under an {@code .old-} name, it is renamed back; then the temporary
     * siblings of writers that are no longer running are deleted. Never touches a live process's.
     */
    public static void recover(Path target) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        String name = absolute.getFileName().toString();
        List<Path> olds = new ArrayList<>();
        List<Path> temps = new ArrayList<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(parent)) {
            for (Path child : children) {
                String n = child.getFileName().toString();
                String kind = n.startsWith("." + name + TMP) ? TMP : n.startsWith("." + name + OLD) ? OLD : null;
                if (kind == null) {
                    continue;
                }
                Matcher owner = OWNER.matcher(n.substring(name.length() + 1 + kind.length()));
                if (owner.matches() && !alive(owner.group(1))) {
                    (kind.equals(OLD) ? olds : temps).add(child);
                }
            }
        }
        if (!Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
            if (olds.size() == 1) {
                Files.move(olds.remove(0), absolute, StandardCopyOption.ATOMIC_MOVE);
            } else {
                olds.clear(); // none, or ambiguous: leave them for a person to look at
            }
        }
        for (Path p : temps) {
            deleteRecursively(p);
        }
        for (Path p : olds) {
            discard(absolute, p);
        }
    }

    /**
     * A new, empty directory {@code prefix + n} in {@code parent}. Made with a plain mkdir, not
     * {@link Files#createTempDirectory}: the latter is owner-only (0700), and the renamed bundle
     * would keep that mode, unreadable to a server running as another user. A plain mkdir gets the
     * process's umask, like any directory the user makes.
     */
    private static Path createSibling(Path parent, String prefix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path candidate = parent.resolve(prefix + ThreadLocalRandom.current().nextLong(Long.MAX_VALUE));
            try {
                return Files.createDirectory(candidate);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            }
        }
    }

    /** The temporary-name prefix of this process for {@code target}. */
    private static String prefix(Path absolute, String kind) {
        return "." + absolute.getFileName() + kind + ProcessHandle.current().pid() + "-";
    }

    private static boolean alive(String pid) {
        try {
            return ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return true; // not a pid this class wrote: not ours to delete
        }
    }

    /**
     * Deletes a replaced version. It is first renamed to a temporary name, so a crash while deleting
     * never leaves a partial directory under the {@code .old-} name that {@link #recover} trusts.
     * Best effort: the new version is already in place, and recover() retries later.
     */
    private static void discard(Path absolute, Path old) {
        try {
            Path trash = Files.createTempDirectory(old.getParent(), prefix(absolute, TMP));
            Files.delete(trash);
            Files.move(old, trash, StandardCopyOption.ATOMIC_MOVE);
            deleteRecursively(trash);
        } catch (IOException e) {
            // left for the next recover()
        }
    }

    /**
     * An IOException whose message names the target and the reason ("No space left on device",
     * "Read-only file system", ...), and the file being written when it was one of the bundle's.
     */
    static IOException failure(Path absolute, IOException e) {
        if (e instanceof FileAlreadyExistsException) {
            return e;
        }
        if (!(e instanceof FileSystemException fs)) {
            String message = String.valueOf(e.getMessage());
            return message.contains(absolute.toString()) ? e
                    : new IOException("cannot write " + absolute + ": " + message, e);
        }
        String reason = e instanceof AccessDeniedException ? "permission denied"
                : e instanceof NoSuchFileException ? "no such file or directory"
                : e instanceof NotDirectoryException ? "not a directory"
                : fs.getReason() != null ? fs.getReason() : e.getClass().getSimpleName();
        String detail = "";
        String written = fs.getOtherFile() != null ? fs.getOtherFile() : fs.getFile(); // a copy's or move's target
        if (written != null) {
            Path file = Path.of(written).toAbsolutePath().normalize();
            Path dir = file.getParent();
            String ours = "." + absolute.getFileName();
            String name = String.valueOf(file.getFileName());
            if (dir != null && dir.getFileName() != null && dir.getFileName().toString().startsWith(ours + TMP)) {
                detail = " (writing " + file.getFileName() + ")";
            } else if (name.startsWith(ours + TMP) || name.startsWith(ours + OLD)) {
                detail = absolute.getParent().equals(dir) ? "" : " (in " + dir + ")";
            } else if (!file.equals(absolute)) {
                detail = " (" + file + ")";
            }
        }
        return new IOException("cannot write " + absolute + ": " + reason + detail, e);
    }

    private static void deleteQuietly(Path dir) {
        try {
            deleteRecursively(dir);
        } catch (IOException e) {
            // recover() deletes it once this process has exited
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
