package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.load.LoadProgress;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The bench's live progress on stderr: on a terminal one line rewritten in place about once a second; otherwise (a log
 * file, CI) a plain line every few seconds, so logs stay readable.
 */
final class ProgressLine implements Consumer<LoadProgress> {
    private final PrintWriter err;
    private final boolean terminal;
    private long lastPrinted;
    private final long everyNanos;

    ProgressLine(PrintWriter err, boolean terminal, long everyMillis) {
        this.err = err;
        this.terminal = terminal;
        this.everyNanos = everyMillis * 1_000_000L;
    }

    @Override
    public synchronized void accept(LoadProgress p) {
        long now = System.nanoTime();
        if (!terminal && !p.finished() && lastPrinted != 0 && now - lastPrinted < everyNanos) {
            return;
        }
        lastPrinted = now;
        String planned = p.plannedSeconds() > 0 ? String.format(Locale.ROOT, "/%.0fs", p.plannedSeconds()) : "";
        String text = String.format(Locale.ROOT, "%-7s %5.1fs%s  sent %d  ok %d  errors %d  dropped %d  %.1f req/s",
                p.phase(), p.elapsedSeconds(), planned, p.sent(), p.ok(), p.errors(), p.dropped(),
                p.elapsedSeconds() > 0 ? p.ok() / p.elapsedSeconds() : 0.0);
        if (terminal) {
            err.print("\r\033[2K" + text);
        } else {
            err.println(text);
        }
        err.flush();
    }

    /** Ends the in-place line so the report starts on a fresh one. */
    synchronized void finish() {
        if (terminal) {
            err.println();
            err.flush();
        }
    }
}
