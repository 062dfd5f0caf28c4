package dev.backdoorguard.offline.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.eval.AttackMetrics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * DHBE's progress lines: the evaluation line, including a collapsed student's undefined conditional
 * ASR, and the generator warm-up's lines.
 */
class DhbeProgressTest {
    private static String evaluationLine(AttackMetrics m) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new DhbeProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false).onEvaluation(300, m);
        return bytes.toString(StandardCharsets.UTF_8).trim();
    }

    @Test
    void printsTheConditionalAsrWhenItIsDefined() {
        AttackMetrics m = new AttackMetrics(0.9, 0.5, 0.25, 900, 1000, 450, 225, 900, 400, 800);
        assertThat(evaluationLine(m))
                .isEqualTo("dhbe eval at 300: ACC 90.00% ASR 50.00% RA 25.00% (conditional ASR 50.00%)");
    }

    @Test
    void saysWhyTheConditionalAsrIsMissingInsteadOfPrintingNan() {
        // Every image predicted as the target: no non-target image is classified correctly when clean.
        AttackMetrics m = new AttackMetrics(0.1, 1.0, 0.0, 100, 1000, 900, 0, 900, 0, 0);
        assertThat(evaluationLine(m)).isEqualTo("dhbe eval at 300: ACC 10.00% ASR 100.00% RA 0.00%"
                + " (conditional ASR n/a: no non-target image classified correctly)");
    }

    @Test
    void theGeneratorWarmupPrintsALineEveryTenthOfItsSteps() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DhbeProgress progress = new DhbeProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        for (int step = 1; step <= 200; step++) {
            progress.onWarmup(step, 200, 3.0 - step / 100.0, 1.5, step * 0.1);
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).trim().split("\n");
        assertThat(lines).hasSize(10);
        assertThat(lines[0]).isEqualTo("dhbe generator warm-up 20/200 BN prior 2.8000 teacher entropy 1.500 2.0 s");
        assertThat(lines[9]).startsWith("dhbe generator warm-up 200/200 BN prior 1.0000");
    }
}
