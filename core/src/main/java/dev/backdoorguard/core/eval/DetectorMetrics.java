package dev.backdoorguard.core.eval;

import java.util.Arrays;

/**
 * The detector's quality on clean test images (each scored against its predicted class,
 * misclassified ones included) vs successful triggered images (DESIGN §5): TPR and FPR at the
 * calibrated threshold, AUROC of the score (larger = more suspicious), the FPR on misclassified
 * clean images, and the clean flag rate per predicted class.
 */
public record DetectorMetrics(
        double tpr,
        double fpr,
        double auroc,
        int truePositives,
        int triggeredTotal,
        int falsePositives,
        int cleanTotal,
        int misclassifiedFlagged,
        int misclassifiedTotal,
        double[] classFlagRates,
        int[] classTotals) {

    /**
     * Computes the metrics from per-image scores and flags.
     *
     * @param cleanScores     score of every clean test image
     * @param cleanFlags      verdict of every clean test image
     * @param cleanPredicted  predicted class of every clean test image
     * @param cleanTrue       true class of every clean test image
     * @param triggeredScores score of every successful triggered image
     * @param triggeredFlags  verdict of every successful triggered image
     */
    public static DetectorMetrics of(float[] cleanScores, boolean[] cleanFlags, int[] cleanPredicted, int[] cleanTrue,
            float[] triggeredScores, boolean[] triggeredFlags, int numClasses) {
        int fp = 0;
        int misFlagged = 0;
        int misTotal = 0;
        int[] classFlags = new int[numClasses];
        int[] classTotals = new int[numClasses];
        for (int i = 0; i < cleanScores.length; i++) {
            fp += cleanFlags[i] ? 1 : 0;
            classTotals[cleanPredicted[i]]++;
            classFlags[cleanPredicted[i]] += cleanFlags[i] ? 1 : 0;
            if (cleanPredicted[i] != cleanTrue[i]) {
                misTotal++;
                misFlagged += cleanFlags[i] ? 1 : 0;
            }
        }
        int tp = 0;
        for (boolean f : triggeredFlags) {
            tp += f ? 1 : 0;
        }
        double[] rates = new double[numClasses];
        for (int c = 0; c < numClasses; c++) {
            rates[c] = AttackMetrics.ratio(classFlags[c], classTotals[c]);
        }
        return new DetectorMetrics(AttackMetrics.ratio(tp, triggeredFlags.length),
                AttackMetrics.ratio(fp, cleanScores.length), auroc(triggeredScores, cleanScores), tp,
                triggeredFlags.length, fp, cleanScores.length, misFlagged, misTotal, rates, classTotals);
    }

    /**
     * The probability that a random positive scores above a random negative, ties counting one half
     * (Mann-Whitney U / (n₊·n₋), from average ranks); NaN when either side is empty.
     */
    public static double auroc(float[] positives, float[] negatives) {
        int np = positives.length;
        int nn = negatives.length;
        if (np == 0 || nn == 0) {
            return Double.NaN;
        }
        float[] all = new float[np + nn];
        System.arraycopy(positives, 0, all, 0, np);
        System.arraycopy(negatives, 0, all, np, nn);
        Integer[] order = new Integer[all.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Float.compare(all[x], all[y]));
        double positiveRankSum = 0;
        int i = 0;
        while (i < order.length) {
            int j = i;
            while (j + 1 < order.length && Float.compare(all[order[j + 1]], all[order[i]]) == 0) {
                j++;
            }
            double averageRank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                if (order[k] < np) {
                    positiveRankSum += averageRank;
                }
            }
            i = j + 1;
        }
        return (positiveRankSum - (double) np * (np + 1) / 2) / ((double) np * nn);
    }

    /**
     * The ROC curve of a score (larger = more suspicious): {@code [fpr[], tpr[]]}, one point per
     * distinct threshold from (0, 0) to (1, 1).
     */
    public static double[][] rocCurve(float[] positives, float[] negatives) {
        float[] thresholds = new float[positives.length + negatives.length];
        System.arraycopy(positives, 0, thresholds, 0, positives.length);
        System.arraycopy(negatives, 0, thresholds, positives.length, negatives.length);
        float[] sortedPos = positives.clone();
        float[] sortedNeg = negatives.clone();
        Arrays.sort(thresholds);
        Arrays.sort(sortedPos);
        Arrays.sort(sortedNeg);
        java.util.List<double[]> points = new java.util.ArrayList<>();
        points.add(new double[] {0, 0});
        for (int i = thresholds.length - 1; i >= 0; i--) {
            if (i < thresholds.length - 1 && thresholds[i] == thresholds[i + 1]) {
                continue;
            }
            float t = thresholds[i];
            points.add(new double[] {atLeast(sortedNeg, t), atLeast(sortedPos, t)});
        }
        double[][] out = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++) {
            out[0][i] = points.get(i)[0];
            out[1][i] = points.get(i)[1];
        }
        return out;
    }

    /** The share of {@code sorted} that is >= t. */
    private static double atLeast(float[] sorted, float t) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return (double) (sorted.length - lo) / sorted.length;
    }
}
