package dev.backdoorguard.offline.purify.dhbe;

import dev.backdoorguard.core.eval.AttackMetrics;
import java.nio.file.Path;

/** Progress of a DHBE run, for a console or a log. */
public interface DhbeListener {
    DhbeListener NONE = new DhbeListener() {};

    /**
     * After each outer iteration (1-based {@code done} of {@code total}); {@code seconds} since this
     * process started its iterations (after any generator warm-up).
     */
    default void onIteration(int done, int total, DhbeLosses losses, double seconds) {}

    /**
     * After each step of the {@code --generator-warmup} deviation (1-based {@code done} of {@code total}):
     * its BatchNorm-statistics distance and the entropy of the teacher's batch-mean prediction.
     */
    default void onWarmup(int done, int total, double bnPrior, double teacherEntropy, double seconds) {}

    default void onEvaluation(int done, AttackMetrics metrics) {}

    default void onCheckpoint(int done, Path dir) {}
}
