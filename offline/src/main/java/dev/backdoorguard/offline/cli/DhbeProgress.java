package dev.backdoorguard.offline.cli;

import dev.backdoorguard.offline.purify.dhbe.DhbeListener;
import dev.backdoorguard.offline.purify.dhbe.DhbeLosses;
import dev.backdoorguard.core.eval.AttackMetrics;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * DHBE progress on stderr in {@link ConsoleProgress}'s style: a bar redrawn in place on a terminal,
 * plain lines otherwise (one per percent of the run), each with the current distillation loss.
 */
final class DhbeProgress implements DhbeListener {
    private static final int BAR = 30;

    private final PrintStream out;
    private final boolean terminal;
    private int lastPercent = -1;
    private int startDone = -1;

    DhbeProgress(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    static DhbeProgress stderr() {
        return new DhbeProgress(System.err, System.console() != null);
    }

    @Override
    public void onIteration(int done, int total, DhbeLosses losses, double seconds) {
        if (startDone < 0) {
            startDone = done - 1; // a resumed run starts part-way
        }
        double rate = (done - startDone) / Math.max(seconds, 1e-9);
        double eta = (total - done) / Math.max(rate, 1e-9);
        if (terminal) {
            int filled = (int) ((long) BAR * done / total);
            out.printf("\rdhbe [%s%s] %d/%d distill %.4f G %.4f Gp %.4f %.2f it/s eta %s ", "=".repeat(filled),
                    " ".repeat(BAR - filled), done, total, losses.distillation(), losses.generator(), losses.patch(),
                    rate, minutes(eta));
            out.flush();
            if (done == total) {
                out.println();
            }
            return;
        }
        int percent = (int) (100L * done / total);
        if (percent != lastPercent || done == total) {
            lastPercent = percent;
            out.printf("dhbe iteration %d/%d distill %.4f G %.4f Gp %.4f %.1f s (%.2f it/s, eta %s)%n", done, total,
                    losses.distillation(), losses.generator(), losses.patch(), seconds, rate, minutes(eta));
        }
    }

    @Override
    public void onWarmup(int done, int total, double bnPrior, double teacherEntropy, double seconds) {
        // a line every 10% (the warm-up is short): the entropy shows whether the teacher's labels diversify
        if (done == total || done % Math.max(1, total / 10) == 0) {
            if (terminal) {
                out.print("\r");
            }
            out.printf("dhbe generator warm-up %d/%d BN prior %.4f teacher entropy %.3f %.1f s%n", done, total, bnPrior,
                    teacherEntropy, seconds);
        }
    }

    @Override
    public void onEvaluation(int done, AttackMetrics m) {
        if (terminal) {
            out.print("\r");
        }
        // Conditional ASR is undefined when no non-target image is classified correctly (a collapsed student).
        String conditional = Double.isNaN(m.asrConditional()) ? "n/a: no non-target image classified correctly"
                : String.format("%.2f%%", 100 * m.asrConditional());
        out.printf("dhbe eval at %d: ACC %.2f%% ASR %.2f%% RA %.2f%% (conditional ASR %s)%n", done, 100 * m.acc(),
                100 * m.asr(), 100 * m.ra(), conditional);
    }

    @Override
    public void onCheckpoint(int done, Path dir) {
        if (terminal) {
            out.print("\r");
        }
        out.printf("dhbe checkpoint at %d -> %s%n", done, dir);
    }

    private static String minutes(double seconds) {
        if (seconds < 90) {
            return String.format("%.0f s", seconds);
        }
        return seconds < 5400 ? String.format("%.1f min", seconds / 60) : String.format("%.1f h", seconds / 3600);
    }
}
