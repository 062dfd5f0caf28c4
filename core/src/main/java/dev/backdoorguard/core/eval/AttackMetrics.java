package dev.backdoorguard.core.eval;

/**
 * The metrics of DESIGN.md §5. ACC: clean test accuracy. ASR: share of triggered test images whose
 * true label is not the target that are predicted as the target. RA: share of those predicted as
 * their true label. Counts are kept so figures can be re-derived; {@code conditionalHits} of
 * {@code conditionalTotal} give DHBE's ASR (specs/dhbe-seam.md §A.7), which only counts the
 * non-target images the model classifies correctly when clean.
 */
public record AttackMetrics(
        double acc, double asr, double ra, int cleanCorrect, int cleanTotal, int attackHits, int attackRecovered,
        int attackTotal, int conditionalHits, int conditionalTotal) {

    public static AttackMetrics cleanOnly(int correct, int total) {
        return new AttackMetrics(ratio(correct, total), Double.NaN, Double.NaN, correct, total, 0, 0, 0, 0, 0);
    }

    /** DHBE's conditional ASR: hits among the non-target images classified correctly when clean (NaN if none). */
    public double asrConditional() {
        return ratio(conditionalHits, conditionalTotal);
    }

    static double ratio(int a, int b) {
        return b == 0 ? Double.NaN : (double) a / b;
    }

    public boolean hasAttack() {
        return attackTotal > 0;
    }
}
