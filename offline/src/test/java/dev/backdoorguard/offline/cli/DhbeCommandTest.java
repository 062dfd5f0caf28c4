package dev.backdoorguard.offline.cli;

import static dev.backdoorguard.offline.cli.CommandLineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.offline.cli.CommandLineTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard purify dhbe} end to end on a small real backdoored Fashion-MNIST model (trained in
 * {@link #trainASmallBackdooredModel()}), with tiny sizes: the bundle, report, curves, checkpoints, and
 * every bad-input path (exit 2, one line, input untouched, no output).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DhbeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Tiny sizes so a run takes seconds; the algorithm is the same as at full size. */
    private static final String[] SMALL = {"--iterations", "6", "--batch-size", "8", "--ngf", "4", "--nz", "16",
        "--lr-student", "0.1"};

    @TempDir static Path tmp;
    private Path model;
    private String inputHash;

    static Run run(String... args) {
        return CommandLineTest.run(args);
    }

    /** head, then the small sizes unless {@code tail} sets them itself, then tail. */
    static String[] args(String[] head, String... tail) {
        List<String> all = new ArrayList<>(List.of(head));
        List<String> overridden = List.of(tail);
        for (int i = 0; i < SMALL.length; i += 2) {
            if (!overridden.contains(SMALL[i])) {
                all.add(SMALL[i]);
                all.add(SMALL[i + 1]);
            }
        }
        all.addAll(overridden);
        return all.toArray(String[]::new);
    }

    @BeforeAll
    void trainASmallBackdooredModel() throws Exception {
        model = tmp.resolve("m0");
        Run r = run("attack", "--trigger", "badnets", "--poison-rate", "0.1", "--target", "0", "--epochs", "3",
                "--max-train", "6000", "--seed", "1", "--padding", "0", "--no-flip", "--out", model.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        inputHash = Bundles.sha256(model.resolve("weights.safetensors"));
    }

    @Test
    void aShortRunLowersTheAttackSuccessRateAndWritesBundleReportCurvesAndCheckpoints() throws Exception {
        Path out = tmp.resolve("m1-dhbe");
        Run r = run(args(new String[] {"purify", "dhbe", "--model", model.toString(), "--out", out.toString(),
            "--eval-trigger", "badnets", "--eval-target", "0", "--eval-every", "3", "--eval-images", "500",
            "--checkpoint-every", "3", "--json"}));
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode report = JSON.readTree(r.out());
        System.out.println("DHBE on the test model: " + report.get("evaluation"));
        assertThat(report.get("method").asText()).isEqualTo("dhbe");
        assertThat(report.at("/config/iterations").asInt()).isEqualTo(6);
        assertThat(report.at("/config/lr_milestones").asText()).isEqualTo("3, 4");
        assertThat(report.at("/config/student_bn").asText()).isEqualTo("train"); // the reference by default
        assertThat(report.at("/config/generator_warmup").asInt()).isZero();
        assertThat(report.at("/config/bn_prior").asDouble()).isZero();
        assertThat(report.at("/details/generator_warmup").isMissingNode()).isTrue();
        assertThat(report.at("/input/clean_images").asInt()).isZero();
        assertThat(report.at("/details/evaluations")).hasSize(3); // before (0), 3, 6
        assertThat(report.at("/details/evaluations/1/asr_conditional").isNumber()).isTrue();
        assertThat(report.at("/details/losses")).hasSize(6);
        assertThat(report.at("/details/checkpoints_written/0").asInt()).isEqualTo(3);
        // The trigger stops working within a few iterations. So does much of the clean accuracy: in this tiny
        // run the student is far from having re-learnt the teacher (docs/BENCHMARKS.md §7 measures real runs).
        double before = report.at("/evaluation/before/asr").asDouble();
        assertThat(before).isGreaterThan(0.5);
        assertThat(report.at("/evaluation/after/asr").asDouble()).isLessThan(before / 2);
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("model.json",
                    "weights.safetensors", "report.json", "dhbe-curve.png", "dhbe-losses.png");
        }
        assertThat(javax.imageio.ImageIO.read(out.resolve("dhbe-curve.png").toFile()).getWidth()).isEqualTo(640);
        assertThat(tmp.resolve("m1-dhbe.dhbe-checkpoint").resolve("checkpoint.json")).exists();
        assertThat(Bundles.sha256(model.resolve("weights.safetensors"))).isEqualTo(inputHash);
        Run eval = run("evaluate", "--model", out.toString(), "--trigger", "badnets", "--json");
        assertThat(JSON.readTree(eval.out()).at("/metrics/asr").asDouble())
                .isEqualTo(report.at("/evaluation/after/asr").asDouble());
    }

    @Test
    void theGeneratorPriorDeviationIsRecordedInTheReportAndSummary() throws Exception {
        Path out = tmp.resolve("m1-dhbe-prior");
        Run r = run(args(new String[] {"purify", "dhbe", "--model", model.toString(), "--out", out.toString()},
                "--iterations", "2", "--generator-warmup", "40", "--bn-prior", "0.5"));
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode report = JSON.readTree(out.resolve("report.json").toFile());
        assertThat(report.at("/config/generator_warmup").asInt()).isEqualTo(40);
        assertThat(report.at("/config/bn_prior").asDouble()).isEqualTo(0.5);
        JsonNode warmup = report.at("/details/generator_warmup");
        System.out.println("generator warm-up on the test model: " + warmup);
        assertThat(warmup.get("steps").asInt()).isEqualTo(40);
        // what the warm-up is for: the backdoored teacher's labels of G's images spread over more classes
        // (it starts near "all the target class"), while G's BN statistics approach the teacher's
        assertThat(warmup.get("final_teacher_entropy").asDouble())
                .isGreaterThan(warmup.get("first_teacher_entropy").asDouble()).isLessThanOrEqualTo(Math.log(10));
        assertThat(warmup.get("final_bn_prior").asDouble()).isLessThan(warmup.get("first_bn_prior").asDouble());
        assertThat(r.out()).contains("generator warm-up 40 steps, BN prior 0.5: deviations");
        assertThat(Bundles.sha256(model.resolve("weights.safetensors"))).isEqualTo(inputHash);
    }

    @Test
    void badInputIsOneLineExitTwoWithTheInputUntouchedAndNoOutput() throws Exception {
        Path out = tmp.resolve("never");
        String m = model.toString();
        String o = out.toString();
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--patch-size", "29")),
                "--patch-size 29 is larger than the 28x28 image");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "0")),
                "--iterations must be > 0");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--profile", "gpu")),
                "--profile must be full or cpu");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--student-bn", "foo")),
                "--student-bn must be train or eval, got foo");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--generator-warmup", "-1")),
                "--generator-warmup must be >= 0, got -1");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--bn-prior", "NaN")),
                "--bn-prior must be finite and >= 0, got NaN");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--eval-every", "5")),
                "--eval-every needs --eval-trigger");
        // a model whose input the generator cannot make (cnn-small runs on 30x30, the generator needs side % 4 == 0)
        Path odd = tmp.resolve("m-30");
        Files.createDirectories(odd);
        Files.copy(model.resolve("weights.safetensors"), odd.resolve("weights.safetensors"));
        Files.writeString(odd.resolve("model.json"), Files.readString(model.resolve("model.json"))
                .replaceAll("\"input_shape\"\\s*:\\s*\\[\\s*1\\s*,\\s*28\\s*,\\s*28\\s*\\]", "\"input_shape\": [1, 30, 30]"));
        assertError(run(args(new String[] {"purify", "dhbe", "--model", odd.toString(), "--out", o})),
                "square inputs whose side is divisible by 4");
        // --resume: nothing there, a corrupt checkpoint, a checkpoint of other settings
        Path ckpt = tmp.resolve("ckpt");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--resume",
                "--checkpoint-dir", ckpt.toString())), "--resume: no checkpoint");
        Run ok = run(args(new String[] {"purify", "dhbe", "--model", m, "--out", tmp.resolve("m2").toString()},
                "--iterations", "4", "--checkpoint-every", "2", "--checkpoint-dir", ckpt.toString()));
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "4",
                "--batch-size", "16", "--resume", "--checkpoint-dir", ckpt.toString())),
                "was written with other settings: batch_size 8 -> 16");
        Files.writeString(ckpt.resolve("checkpoint.json"), "{\"format\": \"dhbe-checkpoint-1\", \"config\": ");
        Run corrupt = run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "4",
                "--resume", "--checkpoint-dir", ckpt.toString()));
        assertError(corrupt, "--resume: corrupt checkpoint");
        assertThat(corrupt.err()).contains("(line 1, column").doesNotContain("Source");
        // --checkpoint-dir replaces its directory as a whole: never one holding anything else, nor the bundles
        Path victim = Files.createDirectories(tmp.resolve("victim"));
        Files.writeString(victim.resolve("notes.txt"), "keep me");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "2",
                "--checkpoint-every", "1", "--checkpoint-dir", victim.toString())),
                "holds other files (no checkpoint.json)");
        assertThat(victim.resolve("notes.txt")).hasContent("keep me");
        Files.writeString(victim.resolve("checkpoint.json"), "{}"); // a file of that name is not enough
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "2",
                "--checkpoint-every", "1", "--checkpoint-dir", victim.toString())), "is not a DHBE checkpoint's");
        assertThat(victim.resolve("notes.txt")).hasContent("keep me");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "2",
                "--checkpoint-every", "1", "--checkpoint-dir", m)), "--checkpoint-dir must differ from --model");
        assertError(run(args(new String[] {"purify", "dhbe", "--model", m, "--out", o}, "--iterations", "2",
                "--checkpoint-every", "1", "--checkpoint-dir", out.resolve("ck").toString())),
                "are nested");
        assertThat(out).doesNotExist();
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".never"));
        }
        assertThat(Bundles.sha256(model.resolve("weights.safetensors"))).isEqualTo(inputHash);
    }

    @Test
    void helpShowsEveryOptionWithItsDefault() {
        Run r = run("purify", "dhbe", "--help");
        assertThat(r.exit()).isZero();
        for (String option : new String[] {"--iterations", "--batch-size", "--ngf", "--nz", "--nz2", "--patch-size",
            "--lr-student", "--lr-generator", "--lr-patch", "--loss-weight-patch", "--tv2", "--profile",
            "--checkpoint-every", "--checkpoint-dir", "--resume", "--eval-every", "--student-bn", "--generator-warmup",
            "--bn-prior"}) {
            assertThat(r.out()).contains(option);
        }
        assertThat(r.out()).contains("default: 15000, cpu profile").contains("default: 0.1)").contains("default: 1e-4)");
        assertThat(r.out().replaceAll("\\s+", " ")).contains("eval, a DEVIATION from the reference")
                .contains("(default: train)");
    }
}
