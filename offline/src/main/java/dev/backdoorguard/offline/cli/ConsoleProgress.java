package dev.backdoorguard.offline.cli;

import dev.backdoorguard.offline.train.TrainingLoop;
import java.io.PrintStream;

/**
 * Training progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (a log
 * file or CI gets a line every quarter epoch and one per epoch).
 */
final class ConsoleProgress implements TrainingLoop.Listener {
    private static final int BAR = 30;

    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private long epochStart = System.nanoTime();
    private int lastQuarter = -1;

    ConsoleProgress(PrintStream out, boolean terminal, String label) {
        this.out = out;
        this.terminal = terminal;
        this.label = label;
    }

    static ConsoleProgress stderr(String label) {
        return new ConsoleProgress(System.err, System.console() != null, label);
    }

    @Override
    public void onStep(int epoch, int epochs, int step, int steps, double runningLoss) {
        if (step == 1) {
            epochStart = System.nanoTime();
            lastQuarter = -1;
        }
        double seconds = (System.nanoTime() - epochStart) / 1e9;
        if (terminal) {
            int filled = (int) ((long) BAR * step / steps);
            // Timed from the end of step 1, so the rate counts the steps after it (none yet at step 1).
            String rate = step > 1 ? String.format("%.1f it/s", (step - 1) / Math.max(seconds, 1e-9)) : "- it/s";
            out.printf("\r%s epoch %d/%d [%s%s] %d/%d loss %.4f %s ", label, epoch + 1, epochs,
                    "=".repeat(filled), " ".repeat(BAR - filled), step, steps, runningLoss, rate);
            out.flush();
        } else {
            int quarter = 4 * step / steps;
            if (quarter != lastQuarter && quarter < 4) {
                lastQuarter = quarter;
                out.printf("%s epoch %d/%d step %d/%d loss %.4f%n", label, epoch + 1, epochs, step, steps, runningLoss);
            }
        }
    }

    @Override
    public void onEpoch(TrainingLoop.Epoch epoch, int epochs) {
        if (terminal) {
            out.print("\r");
        }
        out.printf("%s epoch %d/%d done: loss %.4f lr %.5f %.1f s%n", label, epoch.epoch(), epochs, epoch.meanLoss(),
                epoch.learningRate(), epoch.seconds());
    }
}
