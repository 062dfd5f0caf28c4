package dev.backdoorguard.offline.purify.dhbe;

import dev.backdoorguard.core.eval.AttackMetrics;
import java.nio.file.Path;

/** Progress of a DHBE run, for a console or a log. */
public interface DhbeListener {
    DhbeListener NONE = new DhbeListener() {};

    /** After each outer iteration (1-based {@code done} of {@code total}); {@code seconds} since this process started training. */
    default void onIteration(int done, int total, DhbeLosses losses, double seconds) {}

    default void onEvaluation(int done, AttackMetrics metrics) {}

    default void onCheckpoint(int done, Path dir) {}
}
