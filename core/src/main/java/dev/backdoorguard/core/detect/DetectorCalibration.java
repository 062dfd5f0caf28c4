package dev.backdoorguard.core.detect;

import dev.backdoorguard.core.bundle.FloatFormat;
import java.util.ArrayList;
import java.util.List;

/**
 * A complete critical-layer calibration: the architecture's ordered taps and their flattened
 * dimensions, the weight mode, score rule and threshold rule, one {@link ClassStatistics} per class (in class
 * order), the warnings raised while calibrating (e.g. negative weights) and the format the
 * centroids are stored in (the statistics were computed with the centroids as stored).
 */
public record DetectorCalibration(
        List<String> taps, int[] dims, WeightMode weightMode, ScoreRule scoreRule, ThresholdRule rule,
        List<ClassStatistics> classes, List<String> warnings, FloatFormat centroidFormat) {
    public static final String METHOD = "critical-layer";

    public DetectorCalibration {
        taps = List.copyOf(taps);
        classes = List.copyOf(classes);
        warnings = List.copyOf(warnings);
        java.util.Objects.requireNonNull(centroidFormat, "centroidFormat");
        java.util.Objects.requireNonNull(scoreRule, "scoreRule");
        if (dims.length != taps.size()) {
            throw new IllegalArgumentException(taps.size() + " taps but " + dims.length + " dimensions");
        }
        for (int c = 0; c < classes.size(); c++) {
            ClassStatistics s = classes.get(c);
            if (s.classIndex() != c) {
                throw new IllegalArgumentException("class statistics out of order: entry " + c + " is class "
                        + s.classIndex());
            }
            for (int j = 0; j < s.candidates().length; j++) {
                int l = s.candidates()[j];
                if (l < 0 || l >= taps.size()) {
                    throw new IllegalArgumentException("class " + c + ": candidate layer " + l + " is outside [0, "
                            + taps.size() + ")");
                }
                if (s.centroids()[j].length != dims[l]) {
                    throw new IllegalArgumentException("class " + c + ": centroid of tap '" + taps.get(l) + "' has "
                            + s.centroids()[j].length + " values, the tap has " + dims[l]);
                }
            }
            if ((s.mahalanobis() != null) != (scoreRule == ScoreRule.MAHALANOBIS)) {
                throw new IllegalArgumentException("class " + c + ": score rule " + scoreRule.id() + (s.mahalanobis()
                        == null ? " needs" : " has no use for") + " Mahalanobis terms");
            }
            if (s.similarity().length != taps.size()) {
                throw new IllegalArgumentException("class " + c + ": a has " + s.similarity().length
                        + " entries for " + taps.size() + " taps");
            }
        }
    }

    public int numClasses() {
        return classes.size();
    }

    /** The tap indices used by any class (the union U of the S_c), ascending. */
    public int[] usedTaps() {
        boolean[] used = new boolean[taps.size()];
        for (ClassStatistics s : classes) {
            for (int l : s.candidates()) {
                used[l] = true;
            }
        }
        List<Integer> out = new ArrayList<>();
        for (int l = 0; l < used.length; l++) {
            if (used[l]) {
                out.add(l);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The score s_c(x) of one sample ({@link ClassStatistics#score} of its cosines to the class's
     * centroids) computed on the heap in double precision ({@code features[l]} is tap l flattened;
     * taps outside S_c may be null).
     */
    public double score(int classIndex, float[][] features) {
        ClassStatistics s = classes.get(classIndex);
        double[] cosines = new double[s.candidates().length];
        for (int j = 0; j < cosines.length; j++) {
            cosines[j] = Cosine.of(features[s.candidates()[j]], 0, s.centroids()[j]);
        }
        return s.score(cosines);
    }
}
