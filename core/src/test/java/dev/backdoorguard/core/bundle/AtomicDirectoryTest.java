package dev.backdoorguard.core.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a killed writer leaves next to a target (simulated with the names a process that has exited
 * would have used), how the next run repairs it, and the messages of writes that cannot succeed.
 */
class AtomicDirectoryTest {
    @TempDir Path tmp;
    private static long deadPid;

    @BeforeAll
    static void aPidThatIsNoLongerRunning() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        deadPid = p.pid();
        assertThat(ProcessHandle.of(deadPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    }

    private static Path dir(Path p, String file, String content) throws IOException {
        Files.createDirectories(p);
        Files.writeString(p.resolve(file), content);
        return p;
    }

    private String[] names() throws IOException {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    @Test
    void aPreviousVersionLeftMidSwapIsPutBackAndDeadTemporariesAreDeleted() throws IOException {
        Path target = tmp.resolve("out");
        dir(tmp.resolve(".out.old-" + deadPid + "-17"), "model.json", "old");      // killed between the renames
        dir(tmp.resolve(".out.tmp-" + deadPid + "-18"), "model.json", "half");     // killed while filling
        long self = ProcessHandle.current().pid();
        dir(tmp.resolve(".out.tmp-" + self + "-19"), "model.json", "live");        // a live writer's: kept
        dir(tmp.resolve(".out.tmp-notapid"), "x", "");                             // not a name this class makes
        dir(tmp.resolve(".outer.tmp-" + deadPid + "-20"), "x", "");                // another target's
        AtomicDirectory.recover(target);
        assertThat(Files.readString(target.resolve("model.json"))).isEqualTo("old");
        assertThat(names()).containsExactly(".out.tmp-" + self + "-19", ".out.tmp-notapid",
                ".outer.tmp-" + deadPid + "-20", "out");
    }

    @Test
    void anOldVersionNextToAPublishedTargetIsDeletedAndAmbiguityIsLeftAlone() throws IOException {
        Path target = dir(tmp.resolve("out"), "model.json", "new");
        dir(tmp.resolve(".out.old-" + deadPid + "-1"), "model.json", "old");       // killed before deleting it
        AtomicDirectory.recover(target);
        assertThat(names()).containsExactly("out");
        assertThat(Files.readString(target.resolve("model.json"))).isEqualTo("new");

        Path other = tmp.resolve("b");
        dir(tmp.resolve(".b.old-" + deadPid + "-1"), "model.json", "1");
        dir(tmp.resolve(".b.old-" + deadPid + "-2"), "model.json", "2");
        AtomicDirectory.recover(other);
        assertThat(other).doesNotExist(); // two candidates: neither is guessed
        assertThat(names()).contains(".b.old-" + deadPid + "-1", ".b.old-" + deadPid + "-2");
    }

    @Test
    void aWrittenDirectoryHasTheModeOfAPlainMkdirNotOwnerOnly() throws IOException {
        Path plain = Files.createDirectory(tmp.resolve("plain")); // the process umask applies
        Path target = tmp.resolve("out");
        AtomicDirectory.write(target, false, d -> Files.writeString(d.resolve("model.json"), "{}"));
        assertThat(Files.getPosixFilePermissions(target)).isEqualTo(Files.getPosixFilePermissions(plain));
    }

    @Test
    void writeRepairsFirstThenReplaces() throws IOException {
        Path target = tmp.resolve("out");
        dir(tmp.resolve(".out.old-" + deadPid + "-5"), "model.json", "old");
        assertThatThrownBy(() -> AtomicDirectory.write(target, false, d -> Files.writeString(d.resolve("a"), "x")))
                .hasMessageContaining("already exists");
        AtomicDirectory.write(target, true, d -> Files.writeString(d.resolve("model.json"), "new"));
        assertThat(Files.readString(target.resolve("model.json"))).isEqualTo("new");
        assertThat(names()).containsExactly("out");
    }

    @Test
    void aWriteThatRunsOutOfSpaceNamesTheTargetAndTheReasonAndLeavesNothing() throws IOException {
        Path target = tmp.resolve("out");
        assertThatThrownBy(() -> AtomicDirectory.write(target, false, d -> {
            Files.writeString(d.resolve("model.json"), "{}");
            throw new IOException("No space left on device");
        })).hasMessage("cannot write " + target + ": No space left on device");
        assertThat(names()).isEmpty();

        Path kept = dir(tmp.resolve("kept"), "model.json", "old");
        assertThatThrownBy(() -> AtomicDirectory.write(kept, true, d -> {
            throw new java.nio.file.FileSystemException(d.resolve("weights.safetensors").toString(), null,
                    "No space left on device");
        })).hasMessage("cannot write " + kept + ": No space left on device (writing weights.safetensors)");
        assertThat(names()).containsExactly("kept");
        assertThat(Files.readString(kept.resolve("model.json"))).isEqualTo("old");
    }

    @Test
    void placesThatCannotBeWrittenAreRefusedBeforeAnyWork() throws IOException {
        Path file = Files.writeString(tmp.resolve("plain-file"), "not a directory");
        assertThatThrownBy(() -> AtomicDirectory.checkWritable(file.resolve("out")))
                .hasMessage("cannot write " + file.resolve("out") + ": " + file + " is not a directory");
        assertThatThrownBy(() -> AtomicDirectory.checkWritable(file.resolve("a/b/out")))
                .hasMessageContaining(file + " is not a directory");
        // 250 characters is a legal name, but not with the temporary sibling's suffix: refused now, not at the end
        Path longName = tmp.resolve("x".repeat(250));
        assertThatThrownBy(() -> AtomicDirectory.checkWritable(longName))
                .hasMessage("cannot write " + longName + ": File name too long");
        AtomicDirectory.checkWritable(tmp.resolve("new/deeper/out"));
        assertThat(names()).containsExactly("plain-file"); // the checks leave nothing behind
    }
}
