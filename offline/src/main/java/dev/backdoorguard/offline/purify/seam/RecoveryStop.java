package dev.backdoorguard.offline.purify.seam;

/**
 * The recover phase's patience rule (specs/dhbe-seam.md §B.5), read after every epoch: an epoch whose
 * held-out accuracy exceeds the target costs one unit of patience, and so does, after epoch index
 * {@code plateauAfter}, an epoch more than 1e-3 below the best so far; the phase stops when patience
 * reaches zero.
 */
final class RecoveryStop {
    static final double PLATEAU_TOLERANCE = 1e-3;

    private final double target;
    private final int plateauAfter;
    private int patience;
    private double best;
    private String reason = "";

    RecoveryStop(double target, int patience, int plateauAfter) {
        this.target = target;
        this.patience = patience;
        this.plateauAfter = plateauAfter;
    }

    /** Records epoch {@code epochIndex} (0-based, as the reference counts) and says whether to stop. */
    boolean update(int epochIndex, double accuracy) {
        best = Math.max(best, accuracy);
        if (accuracy > target) {
            patience--;
            reason = String.format("held-out accuracy above the target %.4f", target);
        } else if (epochIndex > plateauAfter && accuracy < best - PLATEAU_TOLERANCE) {
            patience--;
            reason = String.format("held-out accuracy on a plateau below the best %.4f after epoch %d", best,
                    plateauAfter);
        }
        return patience <= 0;
    }

    int patience() {
        return patience;
    }

    /** Why the last unit of patience was spent. */
    String reason() {
        return reason;
    }
}
