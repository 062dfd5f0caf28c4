package dev.backdoorguard.offline.cli;

import static dev.backdoorguard.offline.cli.CommandLineTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.offline.cli.CommandLineTest.Run;
import dev.backdoorguard.offline.purify.seam.SeamPurifier;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard purify seam} end to end on real Fashion-MNIST with the demo's backdoored cnn-small
 * (badnets, target 0, ASR 99%; made by `guard attack`, demo/README.md). SEAM needs a model that has
 * learnt its task: on an under-trained one (3 epochs on 6,000 images) recovery keeps training the
 * backdoor too. The settings are shortened (3% clean data, forget rate 1e-3 as the ladder's last
 * rung, patience 3) so the test stays short; BENCHMARKS.md measures the defaults.
 */
class SeamCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir static Path tmp;
    private final Path model = Path.of("../demo/models/fashion-mnist-backdoored/1");

    private Run seam(Path out, String... extra) {
        String[] base = {"purify", "seam", "--model", model.toString(), "--out", out.toString(), "--seed", "1",
            "--clean-fraction", "0.03", "--json"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CommandLineTest.run(args);
    }

    @Test
    void seamForgetsBelowTwiceChanceThenRecoversAndLowersTheAttackSuccessRate() throws Exception {
        Path out = tmp.resolve("m1-seam");
        Run r = seam(out, "--forget-lr", "1e-3", "--forget-lr-ladder", "none", "--patience", "3", "--max-epochs", "30",
                "--recover-target-ratio", "0.95", "--eval-trigger", "badnets");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode report = JSON.readTree(r.out());
        System.out.println("SEAM on the test model: " + report.get("evaluation") + " forget "
                + report.at("/details/forget/epochs") + " recover " + report.at("/details/recover/epochs"));
        JsonNode details = report.get("details");
        assertThat(details.at("/sets/holdout_images").asInt()).isEqualTo(270); // 0.15 of 180 per class
        assertThat(details.at("/sets/recovery_images").asInt()).isEqualTo(1530);
        assertThat(details.at("/sets/forget_images").asInt()).isEqualTo(60);
        // the forget phase stops at the first epoch below 2/K, and not before
        JsonNode forget = details.at("/forget/curve");
        assertThat(details.at("/forget/converged").asBoolean()).isTrue();
        assertThat(forget.get(forget.size() - 1).get("holdout_accuracy").asDouble()).isLessThan(0.2);
        for (int i = 0; i < forget.size() - 1; i++) {
            assertThat(forget.get(i).get("holdout_accuracy").asDouble()).isGreaterThanOrEqualTo(0.2);
        }
        // recovery ran with a fresh optimiser until its rule fired or the cap
        JsonNode recover = details.at("/recover/curve");
        assertThat(recover.size()).isEqualTo(details.at("/recover/epochs").asInt()).isBetween(3, 30);
        double asrBefore = report.at("/evaluation/before/asr").asDouble();
        double asrAfter = report.at("/evaluation/after/asr").asDouble();
        assertThat(asrBefore).isGreaterThan(0.95);
        assertThat(asrAfter).isLessThan(asrBefore / 2);
        assertThat(report.at("/evaluation/after/acc").asDouble())
                .isGreaterThan(report.at("/evaluation/before/acc").asDouble() - 0.05);
        double fidelity = report.at("/evaluation/fidelity").asDouble();
        assertThat(fidelity).isCloseTo((report.at("/evaluation/after/acc").asDouble() - asrAfter)
                / report.at("/evaluation/before/acc").asDouble(), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(out.resolve(SeamPurifier.CURVE_PNG)).isNotEmptyFile();
        assertThat(Files.readAllBytes(out.resolve(SeamPurifier.CURVE_PNG))).startsWith(0x89, 'P', 'N', 'G');
    }

    @Test
    void aForgetRateThatCannotConvergeEscalatesAlongTheLadderAndIsRecorded() throws Exception {
        Path out = tmp.resolve("m1-ladder");
        Run r = seam(out, "--forget-lr", "1e-9", "--forget-lr-ladder", "1e-2", "--max-epochs", "3", "--patience", "1",
                "--recover-target", "0.01");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode forget = JSON.readTree(r.out()).at("/details/forget");
        assertThat(forget.get("escalations").asInt()).isEqualTo(1);
        assertThat(forget.at("/attempts/0/lr").asDouble()).isEqualTo(1e-9);
        assertThat(forget.at("/attempts/0/reached").asBoolean()).isFalse();
        assertThat(forget.at("/attempts/0/epochs").asInt()).isEqualTo(3);
        assertThat(forget.at("/attempts/1/lr").asDouble()).isEqualTo(1e-2);
        assertThat(forget.at("/attempts/1/reached").asBoolean()).isTrue();
        assertThat(forget.get("lr").asDouble()).isEqualTo(1e-2);
        assertThat(r.err()).contains("escalating to lr 1.0e-02");
    }

    @Test
    void anUnconvergedForgetPhaseWritesNothingUnlessAllowed() throws Exception {
        Path out = tmp.resolve("m1-unconverged");
        Run r = seam(out, "--forget-lr", "1e-9", "--forget-lr-ladder", "none", "--max-epochs", "2");
        assertThat(r.exit()).isEqualTo(ErrorHandler.FAILURE);
        assertThat(r.err()).contains("did not bring held-out accuracy below 20.00%").contains("no bundle written");
        assertThat(r.err()).doesNotContain("Exception");
        assertThat(out).doesNotExist();

        Run allowed = seam(out, "--forget-lr", "1e-9", "--forget-lr-ladder", "none", "--max-epochs", "2",
                "--patience", "1", "--recover-target", "0.01", "--allow-unconverged");
        assertThat(allowed.exit()).as(allowed.err()).isZero();
        assertThat(JSON.readTree(allowed.out()).at("/details/forget/converged").asBoolean()).isFalse();
        assertThat(out.resolve("weights.safetensors")).exists();
    }

    @Test
    void badInputIsRefusedAndTheInputBundleIsUntouched() throws Exception {
        byte[] weights = Files.readAllBytes(model.resolve("weights.safetensors"));
        Path out = tmp.resolve("never");
        assertError(seam(out, "--forget-fraction", "0.00001"), "--forget-fraction 1.0E-5 of 60000 training images gives"
                + " fewer than one image per class");
        assertError(seam(out, "--holdout-fraction", "0.999"), "recovery set would be empty or overlap the held-out set");
        assertError(seam(out, "--holdout-fraction", "1"), "--holdout-fraction must be in (0, 1)");
        assertError(seam(out, "--random-labels", "any"), "--random-labels must be exclude-true or include-true");
        assertError(seam(out, "--forget-lr-ladder", "fast"), "--forget-lr-ladder must be comma-separated rates");
        assertError(seam(out, "--recover-betas", "0.5"), "--recover-betas takes two values");
        assertError(seam(out, "--forget-lr", "-1"), "--forget-lr must be finite and > 0");
        assertError(seam(out, "--recover-target", "0.9", "--recover-target-ratio", "0.95"), "not both");
        assertError(CommandLineTest.run("purify", "seam", "--model", model.toString(), "--out", model.toString()),
                "--out must differ from --model");
        assertThat(out).doesNotExist();
        assertThat(Files.readAllBytes(model.resolve("weights.safetensors"))).isEqualTo(weights);
        Run help = CommandLineTest.run("purify", "seam", "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("Usage: guard purify seam").contains("--forget-lr-ladder")
                .contains("--random-labels").contains("--allow-unconverged").contains("--with-replacement");
    }
}
