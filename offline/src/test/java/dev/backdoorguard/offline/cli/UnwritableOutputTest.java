package dev.backdoorguard.offline.cli;

import static dev.backdoorguard.offline.cli.CommandLineTest.assertError;
import static dev.backdoorguard.offline.cli.CommandLineTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.cli.CommandLineTest.Run;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outputs that cannot be written, in ways that stop root too (tests run as root, where permission
 * bits do not): each is one line naming the path and the reason, exit 2, before any work, with the
 * input untouched and nothing written. A full disk and a read-only mount need a real mount:
 * {@code bench/full_disk_check.sh}.
 */
class UnwritableOutputTest {
    private static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 8, 8}, 3, new float[] {0.5f},
            new float[] {0.25f}, List.of("a", "b", "c"), null, null);

    @TempDir Path tmp;
    private Path model;
    private Path file;
    private Map<String, String> before;

    @BeforeEach
    void inputs() throws IOException {
        model = tmp.resolve("model");
        try (Classifier c = Classifier.create(SPEC, Architectures.standard(), 5)) {
            Bundles.write(model, false, SPEC, c.stateDict(), null);
        }
        file = Files.writeString(tmp.resolve("notes.txt"), "a regular file");
        before = snapshot();
    }

    /** Every path under tmp with the SHA-256 of its contents: "nothing written, input untouched". */
    private Map<String, String> snapshot() throws IOException {
        Map<String, String> all = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(tmp)) {
            for (Path p : walk.toList()) {
                all.put(tmp.relativize(p).toString(), Files.isRegularFile(p) ? Bundles.sha256(p) : "dir");
            }
        }
        return all;
    }

    private Run clp(Path out, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("purify", "clp", "--model", model.toString(), "--out",
                out.toString()));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    @Test
    void anOutputUnderARegularFileIsRefusedNamingBoth() throws IOException {
        Path out = file.resolve("out");
        assertError(clp(out), "purify clp: error: cannot write " + out + ": " + file + " is not a directory");
        assertError(clp(file.resolve("deeper/out")), file + " is not a directory");
        // attack refuses before loading any data or training
        assertError(run("attack", "--trigger", "badnets", "--out", out.toString()),
                "attack: error: cannot write " + out + ": " + file + " is not a directory");
        // DHBE's checkpoint directory is checked as well as --out
        Path checkpoint = file.resolve("ckpt");
        assertError(run("purify", "dhbe", "--model", model.toString(), "--out", tmp.resolve("d").toString(),
                "--iterations", "2", "--checkpoint-every", "1", "--checkpoint-dir", checkpoint.toString()),
                "cannot write " + checkpoint + ": " + file + " is not a directory");
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void forceReplacesOnlyABundleOrAnEmptyDirectory() throws IOException {
        // not a bundle, so --force would not help: the message says so rather than suggesting it
        assertError(clp(file), "--out " + file + " exists and is not a bundle (no model.json): give a new path");
        assertError(clp(file, "--force"), "--out " + file + " exists and is not a bundle (no model.json)");
        Path photos = Files.createDirectories(tmp.resolve("photos"));
        Files.writeString(photos.resolve("cat.jpg"), "meow");
        Map<String, String> withPhotos = snapshot();
        assertError(clp(photos, "--force"), "--out " + photos + " exists and is not a bundle");
        assertThat(snapshot()).isEqualTo(withPhotos);

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Run ok = clp(empty, "--force");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertError(clp(empty), empty + " already exists (use --force to replace it)"); // now a bundle
        Run again = clp(empty, "--force"); // now a bundle: replaced
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(empty.resolve("model.json")).exists();
    }

    @Test
    void aNameTheFileSystemCannotHoldIsRefusedBeforeAnyWork() throws IOException {
        Path out = tmp.resolve("o".repeat(250)); // legal, but its temporary sibling's name is not
        assertError(clp(out), "cannot write " + out + ": File name too long");
        assertThat(snapshot()).isEqualTo(before);
    }
}
