package dev.backdoorguard.offline.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.guard.ModelGuard;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard calibrate} and {@code guard evaluate --detector} end to end on a small real badnets
 * cnn-small trained on Fashion-MNIST through the CLI: the detector separates triggered from clean
 * test images, the bundle is rewritten atomically with every other file intact, and bad input is
 * refused with nothing written.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CalibrateCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir static Path tmp;
    private Path model;
    private Map<String, String> before;
    private JsonNode report;

    private static CommandLineTest.Run run(String... args) {
        return CommandLineTest.run(args);
    }

    static Map<String, String> hashes(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                out.put(f.getFileName().toString(), Bundles.sha256(f));
            }
        }
        return out;
    }

    @BeforeAll
    void trainASmallBackdooredModel() throws Exception {
        model = tmp.resolve("m0");
        CommandLineTest.Run r = run("attack", "--trigger", "badnets", "--poison-rate", "0.1", "--target", "0", "--epochs", "4",
                "--max-train", "6000", "--seed", "1", "--padding", "0", "--no-flip", "--out", model.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        before = hashes(model);
    }

    @Test
    @Order(1)
    void badInputIsRefusedWithAClearMessageAndNothingWritten() throws Exception {
        String m = model.toString();
        String[][] cases = {
            {"--tau", "2", "--fpr", "0.01"}, {"--tau", "0"}, {"--tau", "-1"}, {"--fpr", "1.5"}, {"--fpr", "0"},
            {"--weight-mode", "bogus"}, {"--clean-fraction", "0.0002"}, {"--eval-trigger", "badnets", "--eval-target", "12"},
            {"--score", "bogus"}, {"--score", "mahalanobis", "--weight-mode", "per-class"},
            {"--eval-trigger", "badnet"}
        };
        String[] expected = {
            "--tau and --fpr", "--tau must be a positive", "--tau must be a positive", "--fpr must be in (0, 1)",
            "--fpr must be in (0, 1)", "unknown weight mode 'bogus'", "class 0 has 1", "--eval-target 12",
            "--score: unknown score rule 'bogus' (expected one of cosine-sum, mahalanobis)",
            "--weight-mode per-class weights the cosine sum", "unknown trigger 'badnet'"
        };
        for (int i = 0; i < cases.length; i++) {
            String[] args = Stream.concat(Stream.of("calibrate", "--model", m), Stream.of(cases[i])).toArray(String[]::new);
            CommandLineTest.Run r = run(args);
            assertThat(r.exit()).as(String.join(" ", cases[i]) + ": " + r.err()).isEqualTo(ErrorHandler.BAD_INPUT);
            assertThat(r.err()).contains(expected[i]);
            assertThat(hashes(model)).isEqualTo(before);
        }
        assertThat(run("calibrate", "--model", m, "--eval-trigger", "badnet").err())
                .as("a misspelt trigger is refused before the feature passes").doesNotContain("features pass");
        CommandLineTest.Run missing = run("calibrate", "--model", tmp.resolve("nope").toString());
        assertThat(missing.exit()).isEqualTo(ErrorHandler.BAD_INPUT);
        assertThat(missing.err()).contains("nope");
    }

    @Test
    @Order(2)
    void calibrateSeparatesTriggeredFromCleanImagesAndKeepsTheRestOfTheBundle() throws Exception {
        CommandLineTest.Run r = run("calibrate", "--model", model.toString(), "--clean-fraction", "0.02", "--tau", "2.5",
                "--eval-trigger", "badnets", "--eval-target", "0", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("calibrate: features pass 2/2", "calibrate: evaluate");
        report = JSON.readTree(r.out());
        JsonNode eval = report.get("evaluation");
        // This 4-epoch model is weak (ACC about 74%), and misclassified clean images, scored against
        // the wrong class's centroids, are the main source of false positives (critical-layer.md §10).
        // Observed: AUROC 0.995, TPR 0.957, FPR 0.016 overall, 0.6% on the correctly classified
        // images. (With 3 epochs, training's channels-last layout gave a weaker model, ASR 87%, and TPR
        // 0.74; before it 0.88-0.89.) The benchmark's properly trained models: docs/BENCHMARKS.md §4.
        assertThat(eval.get("auroc").asDouble()).as(eval.toString()).isGreaterThan(0.95);
        assertThat(eval.get("tpr").asDouble()).as(eval.toString()).isGreaterThan(0.75);
        assertThat(eval.get("fpr").asDouble()).as(eval.toString()).isLessThan(0.08);
        double correctFlagged = eval.get("false_positives").asInt() - eval.get("misclassified_clean_flagged").asInt();
        double correctTotal = eval.get("clean_total").asInt() - eval.get("misclassified_clean_total").asInt();
        assertThat(correctFlagged / correctTotal).as("FPR on correctly classified clean images, " + eval)
                .isLessThan(0.02);
        assertThat(eval.get("triggered_total").asInt()).isGreaterThan(3000);
        assertThat(eval.get("clean_total").asInt()).isEqualTo(10000);

        Map<String, String> after = hashes(model);
        for (Map.Entry<String, String> e : before.entrySet()) {
            assertThat(after.get(e.getKey())).as(e.getKey() + " byte for byte").isEqualTo(e.getValue());
        }
        assertThat(after.keySet()).contains("detector.json", "detector.safetensors", "calibration-report.json",
                "calibration-scores.png", "calibration-roc.png");
        assertThat(JSON.readTree(model.resolve("calibration-report.json").toFile())).isEqualTo(report);

        JsonNode detector = JSON.readTree(model.resolve("detector.json").toFile());
        assertThat(detector.get("method").asText()).isEqualTo("critical-layer");
        assertThat(detector.get("weight_mode").asText()).isEqualTo("unweighted");
        assertThat(detector.get("tau").asDouble()).isEqualTo(2.5);
        assertThat(detector.get("taps")).hasSize(7);
        assertThat(detector.get("classes")).hasSize(10).allSatisfy(c -> {
            assertThat(c.get("lstar").asInt()).isBetween(4, 6);
            assertThat(c.get("n_ref").asInt()).isEqualTo(120);
            assertThat(c.get("std").asDouble()).isPositive();
        });
        JsonNode provenance = detector.get("provenance");
        assertThat(provenance.get("weights_sha256").asText()).isEqualTo(before.get("weights.safetensors"));
        assertThat(provenance.get("model_json_sha256").asText()).isEqualTo(before.get("model.json"));
        assertThat(provenance.get("clean_data").get("images").asInt()).isEqualTo(1200);
        try (ModelGuard guard = ModelGuard.load(model, Architectures.standard())) {
            assertThat(guard.hasDetector()).isTrue();
        }
    }

    @Test
    @Order(3)
    void evaluateWithDetectorReportsTheSameFigures() throws Exception {
        CommandLineTest.Run r = run("evaluate", "--model", model.toString(), "--trigger", "badnets", "--target", "0", "--detector",
                "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode d = JSON.readTree(r.out()).get("detector");
        JsonNode eval = report.get("evaluation");
        for (String field : new String[] {"tpr", "fpr", "auroc", "true_positives", "false_positives"}) {
            assertThat(d.get(field)).as(field).isEqualTo(eval.get(field));
        }
        // ACC, ASR and RA come from the guarded pass here: they must equal the plain evaluation's.
        CommandLineTest.Run plain = run("evaluate", "--model", model.toString(), "--trigger", "badnets", "--target", "0",
                "--json");
        assertThat(plain.exit()).as(plain.err()).isZero();
        assertThat(JSON.readTree(r.out()).get("metrics")).isEqualTo(JSON.readTree(plain.out()).get("metrics"));
        assertThat(JSON.readTree(plain.out()).get("detector")).isNull();
        CommandLineTest.Run noTrigger = run("evaluate", "--model", model.toString(), "--detector");
        assertThat(noTrigger.exit()).isEqualTo(ErrorHandler.BAD_INPUT);
        assertThat(noTrigger.err()).contains("--detector needs --trigger");
    }

    @Test
    @Order(4)
    void theQuantileRuleAndTheWeightedModesRecalibrateInPlace() throws Exception {
        CommandLineTest.Run q = run("calibrate", "--model", model.toString(), "--fpr", "0.01", "--json");
        assertThat(q.exit()).as(q.err()).isZero();
        JsonNode detector = JSON.readTree(model.resolve("detector.json").toFile());
        assertThat(detector.get("threshold_rule").asText()).isEqualTo("quantile");
        assertThat(detector.get("target_fpr").asDouble()).isEqualTo(0.01);
        assertThat(Files.exists(model.resolve("calibration-roc.png"))).as("stale charts removed").isFalse();

        CommandLineTest.Run faithful = run("calibrate", "--model", model.toString(), "--weight-mode", "code-faithful");
        JsonNode d = JSON.readTree(model.resolve("detector.json").toFile());
        boolean anyLast = false;
        for (JsonNode c : d.get("classes")) {
            anyLast |= c.get("lstar").asInt() == 6;
        }
        if (faithful.exit() == 0) {
            // l* = 4 or 5 everywhere: calibrated, with class 9's increases as every class's weights.
            assertThat(d.get("weight_mode").asText()).isEqualTo("code-faithful");
            assertThat(anyLast).isFalse();
            JsonNode w0 = d.get("classes").get(0).get("weights");
            JsonNode delta9 = d.get("classes").get(9).get("delta");
            int lstar0 = d.get("classes").get(0).get("lstar").asInt();
            for (int j = 0; j < 3; j++) {
                assertThat(w0.get(j).asDouble()).isEqualTo(delta9.get(lstar0 - 2 + j).asDouble());
            }
        } else {
            assertThat(faithful.exit()).isEqualTo(ErrorHandler.BAD_INPUT);
            assertThat(faithful.err()).contains("last tap 'logits'", "--weight-mode unweighted");
        }
        try (ModelGuard guard = ModelGuard.load(model, Architectures.standard())) {
            assertThat(guard.hasDetector()).isTrue();
        }
    }

    @Test
    @Order(5)
    void theMahalanobisScoreCalibratesTheSameTapsForEveryClassAndSeparates() throws Exception {
        CommandLineTest.Run r = run("calibrate", "--model", model.toString(), "--score", "mahalanobis",
                "--eval-trigger", "badnets", "--eval-target", "0", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode eval = JSON.readTree(r.out()).get("evaluation");
        // The same weak model as above (observed: AUROC 0.996, TPR 0.993, FPR 0.017).
        assertThat(eval.get("auroc").asDouble()).as(eval.toString()).isGreaterThan(0.95);
        assertThat(eval.get("tpr").asDouble()).as(eval.toString()).isGreaterThan(0.75);
        assertThat(eval.get("fpr").asDouble()).as(eval.toString()).isLessThan(0.08);
        JsonNode d = JSON.readTree(model.resolve("detector.json").toFile());
        assertThat(d.get("score").asText()).isEqualTo("mahalanobis");
        assertThat(d.get("classes")).hasSize(10).allSatisfy(c -> {
            assertThat(c.get("S").toString()).isEqualTo("[2,3,4,5]");
            assertThat(c.get("cosine_mean")).hasSize(4);
            assertThat(c.get("precision")).hasSize(16);
        });
        try (ModelGuard guard = ModelGuard.load(model, Architectures.standard())) {
            assertThat(guard.detector().orElseThrow().score()).isEqualTo("mahalanobis");
        }
    }
}
