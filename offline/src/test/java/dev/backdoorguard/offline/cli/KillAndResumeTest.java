package dev.backdoorguard.offline.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.GuardOffline;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard purify} as its own process, killed with SIGKILL at seeded random points: the output
 * is absent or a complete bundle after every kill, a DHBE checkpoint is never torn, {@code --resume}
 * continues to the very bytes of an uninterrupted run, and what the killed runs left behind neither
 * looks like a bundle nor blocks the next run (which deletes it).
 */
class KillAndResumeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** 8x8 inputs (the generator needs a side divisible by 4), 3 classes: iterations of milliseconds. */
    private static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 8, 8}, 3, new float[] {0.5f},
            new float[] {0.25f}, List.of("a", "b", "c"), null, null);
    private static final int ITERATIONS = 40;
    private static final Set<String> DHBE_FILES = Set.of("model.json", "weights.safetensors", "report.json",
            "dhbe-losses.png");
    private static final Pattern ITERATION = Pattern.compile("dhbe iteration (\\d+)/");

    @TempDir Path tmp;
    private Path model;

    @BeforeEach
    void randomInitBundle() throws IOException {
        model = tmp.resolve("model");
        try (Classifier c = Classifier.create(SPEC, Architectures.standard(), 5)) {
            Bundles.write(model, false, SPEC, c.stateDict(), null);
        }
    }

    private List<String> dhbe(Path out, boolean resume) {
        List<String> args = new ArrayList<>(List.of("purify", "dhbe", "--model", model.toString(), "--out",
                out.toString(), "--iterations", Integer.toString(ITERATIONS), "--batch-size", "8", "--ngf", "4", "--nz",
                "16", "--seed", "3", "--checkpoint-every", "1"));
        if (resume) {
            args.add("--resume");
        }
        return args;
    }

    @Test
    void dhbeKilledAtRandomPointsResumesToTheUninterruptedBytes() throws Exception {
        Path reference = tmp.resolve("reference");
        Guard uninterrupted = Guard.start(tmp, dhbe(reference, false));
        assertThat(uninterrupted.finish()).as(uninterrupted.err()).isZero();
        assertCompleteDhbeBundle(reference);
        Path weights = reference.resolve(Classifier.WEIGHTS);

        Path out = tmp.resolve("killed");
        Path checkpoint = tmp.resolve("killed.dhbe-checkpoint");
        Random random = new Random(20_251_129L);
        int kills = 0;
        int resumed = 0;
        boolean sawCheckpoint = false;
        // Kill points: during start-up, then after a random iteration plus a random few milliseconds (before,
        // during or after its checkpoint write), and once after the last iteration (while writing the bundle).
        for (int attempt = 0; attempt < 5 && !Files.exists(out); attempt++) {
            boolean resume = Files.exists(checkpoint) || hasOldSibling(checkpoint);
            resumed += resume ? 1 : 0;
            Guard run = Guard.start(tmp, dhbe(out, resume));
            if (attempt == 0) {
                Thread.sleep(200 + random.nextInt(800));
            } else {
                int after = attempt == 4 ? ITERATIONS : 1 + random.nextInt(ITERATIONS - 1);
                run.awaitIteration(after);
                Thread.sleep(random.nextInt(40));
            }
            kills += run.kill() ? 1 : 0;
            // (a) the output is absent or complete
            if (Files.exists(out)) {
                assertCompleteDhbeBundle(out);
            }
            // (c) the checkpoint is whole: both files readable, or (killed between the renames) the previous one
            // waits whole under the temporary name the next run restores
            if (Files.exists(checkpoint)) {
                assertWholeCheckpoint(checkpoint);
                sawCheckpoint = true;
            } else if (hasOldSibling(checkpoint)) {
                assertWholeCheckpoint(oldSiblings(checkpoint).get(0));
            }
            assertLeftoversAreHiddenAndNotBundles();
        }
        if (!Files.exists(out)) {
            Guard last = Guard.start(tmp, dhbe(out, Files.exists(checkpoint) || hasOldSibling(checkpoint)));
            assertThat(last.finish()).as(last.err()).isZero();
        }
        System.out.printf("DHBE killed %d times, resumed %d times%n", kills, resumed);
        assertThat(kills).isGreaterThanOrEqualTo(3);
        assertThat(sawCheckpoint).isTrue();
        assertCompleteDhbeBundle(out);
        JsonNode report = JSON.readTree(out.resolve("report.json").toFile());
        assertThat(report.at("/details/resumed_from_iteration").asInt()).as("the finishing run resumed").isPositive();
        // (b) the same bytes as the uninterrupted run
        assertThat(Files.readAllBytes(out.resolve(Classifier.WEIGHTS))).isEqualTo(Files.readAllBytes(weights));
        // the next runs deleted what the killed ones left
        assertThat(hidden()).as("temporary siblings left").isEmpty();
    }

    @Test
    void clpKilledAtRandomTimesLeavesNoPartialBundle() throws Exception {
        Path timed = tmp.resolve("timed");
        long t0 = System.nanoTime();
        Guard first = Guard.start(tmp, List.of("purify", "clp", "--model", model.toString(), "--out", timed.toString()));
        assertThat(first.finish()).as(first.err()).isZero();
        long millis = (System.nanoTime() - t0) / 1_000_000;
        Random random = new Random(7);
        Path out = tmp.resolve("clp");
        int kills = 0;
        for (int attempt = 0; attempt < 4; attempt++) {
            List<String> args = new ArrayList<>(List.of("purify", "clp", "--model", model.toString(), "--out",
                    out.toString(), "--force"));
            Guard run = Guard.start(tmp, args);
            Thread.sleep((long) (millis * (0.5 + 0.6 * random.nextDouble()))); // the late part: loading, pruning, writing
            kills += run.kill() ? 1 : 0;
            if (Files.exists(out)) {
                try (Stream<Path> files = Files.list(out)) {
                    assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("model.json",
                            "weights.safetensors", "report.json");
                }
                try (Classifier c = Classifier.load(out, Architectures.standard())) {
                    assertThat(c.spec().numClasses()).isEqualTo(3);
                }
                JSON.readTree(out.resolve("report.json").toFile());
            }
            assertLeftoversAreHiddenAndNotBundles();
        }
        System.out.printf("CLP run %d ms, killed %d of 4 times%n", millis, kills);
        assertThat(kills).isPositive();
        Guard last = Guard.start(tmp, List.of("purify", "clp", "--model", model.toString(), "--out", out.toString(),
                "--force"));
        assertThat(last.finish()).as(last.err()).isZero();
        assertThat(Files.readAllBytes(out.resolve(Classifier.WEIGHTS)))
                .isEqualTo(Files.readAllBytes(timed.resolve(Classifier.WEIGHTS)));
        assertThat(hidden()).isEmpty();
    }

    private static void assertCompleteDhbeBundle(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).collect(Collectors.toSet())).isEqualTo(DHBE_FILES);
        }
        try (Classifier c = Classifier.load(dir, Architectures.standard())) {
            assertThat(c.spec().numClasses()).isEqualTo(3);
        }
        assertThat(JSON.readTree(dir.resolve("report.json").toFile()).path("method").asText()).isEqualTo("dhbe");
    }

    private static void assertWholeCheckpoint(Path dir) throws IOException {
        JsonNode meta = JSON.readTree(dir.resolve("checkpoint.json").toFile());
        assertThat(meta.path("format").asText()).isEqualTo("dhbe-checkpoint-1");
        assertThat(meta.path("losses")).hasSize(meta.path("iteration").asInt());
        assertThat(SafeTensors.read(dir.resolve("state.safetensors"))).isNotEmpty();
    }

    private static boolean hasOldSibling(Path target) throws IOException {
        return !oldSiblings(target).isEmpty();
    }

    private static List<Path> oldSiblings(Path target) throws IOException {
        try (Stream<Path> files = Files.list(target.getParent())) {
            return files.filter(p -> p.getFileName().toString().startsWith("." + target.getFileName() + ".old-"))
                    .toList();
        }
    }

    /** Every leftover is a hidden, temporary-named sibling: never a name a bundle or model version would have. */
    private void assertLeftoversAreHiddenAndNotBundles() throws IOException {
        for (String name : hidden()) {
            assertThat(name).matches("\\.[a-z.-]+\\.(tmp|old)-\\d+-\\d+");
        }
    }

    private List<String> hidden() throws IOException {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    /** One {@code guard} process (the offline main on this test's class path), its stderr collected. */
    private static final class Guard {
        private final Process process;
        private final StringBuffer err = new StringBuffer();
        private volatile int lastIteration;
        private final Thread reader;

        private Guard(Process process) {
            this.process = process;
            reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        err.append(line).append('\n');
                        Matcher m = ITERATION.matcher(line);
                        if (m.find()) {
                            lastIteration = Integer.parseInt(m.group(1));
                        }
                    }
                } catch (IOException e) {
                    err.append("(stderr: ").append(e).append(")\n");
                }
            });
            reader.setDaemon(true);
            reader.start();
        }

        static Guard start(Path dir, List<String> args) throws IOException {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Djava.awt.headless=true",
                    "-cp", System.getProperty("java.class.path"), GuardOffline.class.getName()));
            command.addAll(args);
            return new Guard(new ProcessBuilder(command).directory(dir.toFile())
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        }

        void awaitIteration(int n) throws InterruptedException {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (lastIteration < n && process.isAlive() && System.nanoTime() < until) {
                Thread.sleep(1);
            }
        }

        /** SIGKILL; true when it killed the process, false when the process had already finished cleanly. */
        boolean kill() throws InterruptedException {
            process.destroyForcibly();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            reader.join(5000);
            assertThat(process.exitValue()).as("killed (137) or finished (0): %s", err()).isIn(0, 137);
            return process.exitValue() == 137;
        }

        int finish() throws InterruptedException {
            assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
            reader.join(5000);
            return process.exitValue();
        }

        String err() {
            return err.toString();
        }
    }
}
