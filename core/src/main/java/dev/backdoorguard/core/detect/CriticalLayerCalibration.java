package dev.backdoorguard.core.detect;

import dev.backdoorguard.core.bundle.FloatFormat;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calibrates the critical-layer detector from benign labelled data (spec §3.3–3.4), in two passes
 * over the features with double accumulation. Localisation groups samples by their
 * <em>predicted</em> label (centroids m_{c,l}, mean cosine a_{c,l}, Δ, l*_c searched in the deeper
 * half); the reference statistics group the same samples by their <em>true</em> label (centroids
 * μ_{c,l}, scores, mean and population std, threshold). Under {@link ScoreRule#MAHALANOBIS} the
 * localisation still runs (l* is reported) but every class scores the rule's fixed taps, and the
 * reference statistics also give each class's {@link Mahalanobis} terms.
 */
public final class CriticalLayerCalibration {
    private static final Logger logger = LoggerFactory.getLogger(CriticalLayerCalibration.class);

    private final List<String> taps;
    private final int numClasses;
    private final WeightMode weightMode;
    private final ScoreRule scoreRule;
    private final ThresholdRule rule;
    private final FloatFormat centroidFormat;

    /** A calibration whose centroids are stored exactly (F32). */
    public CriticalLayerCalibration(List<String> taps, int numClasses, WeightMode weightMode, ThresholdRule rule) {
        this(taps, numClasses, weightMode, rule, FloatFormat.F32);
    }

    /**
     * A calibration whose centroids will be stored in {@code centroidFormat}: they are rounded to it
     * before the benign scores are computed, so the thresholds hold for the centroids as served.
     */
    public CriticalLayerCalibration(List<String> taps, int numClasses, WeightMode weightMode, ThresholdRule rule,
            FloatFormat centroidFormat) {
        this(taps, numClasses, weightMode, ScoreRule.COSINE_SUM, rule, centroidFormat);
    }

    /**
     * A calibration with a chosen {@link ScoreRule}; the Mahalanobis rule has no layer weights, so
     * it takes {@link WeightMode#UNWEIGHTED} only.
     */
    public CriticalLayerCalibration(List<String> taps, int numClasses, WeightMode weightMode, ScoreRule scoreRule,
            ThresholdRule rule, FloatFormat centroidFormat) {
        if (scoreRule == ScoreRule.MAHALANOBIS && weightMode != WeightMode.UNWEIGHTED) {
            throw new IllegalArgumentException("weight mode " + weightMode.id() + " weights the cosine sum; the "
                    + ScoreRule.MAHALANOBIS.id() + " score has no layer weights: use --weight-mode unweighted");
        }
        if (taps.size() < 3) {
            throw new IllegalArgumentException("the critical-layer search needs at least 3 taps, got " + taps);
        }
        if (numClasses < 2) {
            throw new IllegalArgumentException("need at least 2 classes, got " + numClasses);
        }
        this.taps = List.copyOf(taps);
        this.numClasses = numClasses;
        this.weightMode = weightMode;
        this.scoreRule = java.util.Objects.requireNonNull(scoreRule, "scoreRule");
        this.rule = rule;
        this.centroidFormat = java.util.Objects.requireNonNull(centroidFormat, "centroidFormat");
    }

    /**
     * Runs the calibration; fails with a message naming the class (and tap) when a class has fewer
     * than 2 localisation or reference samples, a feature is not finite, a weighted mode needs a weight
     * past the last tap, or a class's benign scores have zero spread.
     */
    public DetectorCalibration calibrate(FeatureSource source) throws IOException {
        int layers = taps.size();
        Sums sums = new Sums(layers);
        source.forEachBatch(sums::add);
        if (sums.dims == null) {
            throw new IllegalArgumentException("no clean samples to calibrate on");
        }
        // Reference counts first: they follow from the data alone, the localisation counts from the model.
        double[][][] ref = sums.centroids(sums.refSum, sums.nRef, "reference (grouped by true label)");
        double[][][] loc = sums.centroids(sums.locSum, sums.nLoc, "localisation (grouped by predicted label)");
        float[][][] refFloat = toFloat(ref, centroidFormat);

        // Pass 2: the mean similarity to the localisation centroid, and every sample's cosine to its
        // true class's reference centroid on every tap (S is not known yet; L doubles per sample).
        double[][] aSum = new double[numClasses][layers];
        List<double[]> refCosines = new ArrayList<>();
        List<Integer> refLabels = new ArrayList<>();
        source.forEachBatch(batch -> {
            for (int i = 0; i < batch.size(); i++) {
                int p = batch.predicted()[i];
                int y = batch.labels()[i];
                double[] cos = new double[layers];
                for (int l = 0; l < layers; l++) {
                    int d = sums.dims[l];
                    aSum[p][l] += Cosine.of(batch.features()[l], i * d, loc[p][l]);
                    cos[l] = Cosine.of(batch.features()[l], i * d, refFloat[y][l]);
                }
                refCosines.add(cos);
                refLabels.add(y);
            }
        });

        List<String> warnings = new ArrayList<>();
        double[][] a = new double[numClasses][layers];
        double[][] delta = new double[numClasses][layers - 1];
        int[] lstar = new int[numClasses];
        int h = layers / 2;
        for (int c = 0; c < numClasses; c++) {
            for (int l = 0; l < layers; l++) {
                a[c][l] = aSum[c][l] / sums.nLoc[c];
            }
            for (int j = 0; j < layers - 1; j++) {
                delta[c][j] = a[c][j + 1] - a[c][j];
            }
            int best = h;
            for (int j = h + 1; j <= layers - 2; j++) {
                if (delta[c][j] > delta[c][best]) { // strict: ties go to the first maximum, as numpy argmax
                    best = j;
                }
            }
            lstar[c] = best + 1;
        }
        int[][] candidates = new int[numClasses][];
        for (int c = 0; c < numClasses; c++) {
            candidates[c] = scoreRule == ScoreRule.MAHALANOBIS ? ScoreRule.mahalanobisTaps(layers)
                    : new int[] {lstar[c] - 2, lstar[c] - 1, lstar[c]};
        }
        double[][] weights = weights(lstar, candidates, delta, warnings);

        // Each reference sample's cosines at its true class's candidates.
        List<List<double[]>> vectors = new ArrayList<>();
        for (int c = 0; c < numClasses; c++) {
            vectors.add(new ArrayList<>());
        }
        for (int i = 0; i < refCosines.size(); i++) {
            int y = refLabels.get(i);
            double[] v = new double[candidates[y].length];
            for (int j = 0; j < v.length; j++) {
                v[j] = refCosines.get(i)[candidates[y][j]];
            }
            vectors.get(y).add(v);
        }
        List<ClassStatistics> classes = new ArrayList<>();
        for (int c = 0; c < numClasses; c++) {
            Mahalanobis mahalanobis = scoreRule == ScoreRule.MAHALANOBIS ? fitMahalanobis(c, candidates[c],
                    vectors.get(c)) : null;
            double[] s = new double[vectors.get(c).size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = ClassStatistics.score(weights[c], mahalanobis, vectors.get(c).get(i));
            }
            double mean = 0;
            for (double v : s) {
                mean += v;
            }
            mean /= s.length;
            double var = 0;
            for (double v : s) {
                var += (v - mean) * (v - mean);
            }
            double std = Math.sqrt(var / s.length); // population std (numpy ddof = 0), as the reference
            if (!(std > 0)) {
                throw new IllegalArgumentException("class " + c + ": the " + s.length + " benign reference scores are"
                        + " all equal (sigma = 0), so no threshold can be set; use more or more varied clean data");
            }
            float[][] centroids = new float[candidates[c].length][];
            for (int j = 0; j < centroids.length; j++) {
                centroids[j] = refFloat[c][candidates[c][j]];
            }
            classes.add(new ClassStatistics(c, lstar[c], candidates[c], weights[c], centroids, mean, std,
                    rule.threshold(s, mean, std), sums.nLoc[c], sums.nRef[c], a[c], delta[c], mahalanobis));
        }
        return new DetectorCalibration(taps, sums.dims, weightMode, scoreRule, rule, classes, warnings,
                centroidFormat);
    }

    private Mahalanobis fitMahalanobis(int c, int[] candidates, List<double[]> vectors) {
        try {
            return Mahalanobis.fit(vectors, Mahalanobis.SHRINKAGE);
        } catch (Mahalanobis.ZeroVarianceException e) {
            throw new IllegalArgumentException("class " + c + ": the " + vectors.size() + " benign cosines at tap '"
                    + taps.get(candidates[e.position()]) + "' are all equal, so the " + ScoreRule.MAHALANOBIS.id()
                    + " score cannot be fitted; use more or more varied clean data");
        }
    }

    /**
     * w_{c,j} for the candidates l*−2, l*−1, l* of every class, per mode (spec §3.6); 1 for every
     * candidate of the Mahalanobis rule, which does not use them.
     */
    private double[][] weights(int[] lstar, int[][] candidates, double[][] delta, List<String> warnings) {
        int layers = taps.size();
        double[][] w = new double[numClasses][3];
        for (int c = 0; c < numClasses; c++) {
            if (scoreRule == ScoreRule.MAHALANOBIS) {
                w[c] = new double[candidates[c].length];
                java.util.Arrays.fill(w[c], 1);
                continue;
            }
            if (weightMode == WeightMode.UNWEIGHTED) {
                w[c] = new double[] {1, 1, 1};
                continue;
            }
            // The reference weights layer l by Δ_{·,l} = a_{l+1} − a_l, which does not exist for the last tap.
            if (lstar[c] == layers - 1) {
                throw new IllegalArgumentException("class " + c + ": the critical layer is the last tap '"
                        + taps.get(layers - 1) + "' (l* = " + lstar[c] + " = L-1), which has no layer increase to weight"
                        + " it by in weight mode " + weightMode.id() + " (the reference code raises IndexError here);"
                        + " use --weight-mode unweighted");
            }
            double[] source = weightMode == WeightMode.CODE_FAITHFUL ? delta[numClasses - 1] : delta[c];
            for (int j = 0; j < 3; j++) {
                int l = lstar[c] - 2 + j;
                w[c][j] = source[l];
                if (w[c][j] < 0) {
                    String warning = String.format("class %d: negative weight %.6f on tap '%s' (layer %d) inverts that"
                            + " layer's contribution to the score", c, w[c][j], taps.get(l), l);
                    logger.warn(warning);
                    warnings.add(warning);
                }
            }
        }
        return w;
    }

    private static float[][][] toFloat(double[][][] centroids, FloatFormat format) {
        float[][][] out = new float[centroids.length][][];
        for (int c = 0; c < centroids.length; c++) {
            out[c] = new float[centroids[c].length][];
            for (int l = 0; l < centroids[c].length; l++) {
                out[c][l] = new float[centroids[c][l].length];
                for (int k = 0; k < out[c][l].length; k++) {
                    out[c][l][k] = format.round((float) centroids[c][l][k]);
                }
            }
        }
        return out;
    }

    /** Pass 1: per-class feature sums, by predicted and by true label, in double. */
    private final class Sums {
        final int layers;
        int[] dims;
        double[][][] locSum;
        double[][][] refSum;
        final int[] nLoc = new int[numClasses];
        final int[] nRef = new int[numClasses];

        Sums(int layers) {
            this.layers = layers;
        }

        void add(FeatureBatch batch) {
            if (batch.features().length != layers) {
                throw new IllegalArgumentException("a feature batch has " + batch.features().length + " taps, expected "
                        + layers + " " + taps);
            }
            if (dims == null) {
                dims = new int[layers];
                locSum = new double[numClasses][layers][];
                refSum = new double[numClasses][layers][];
                for (int l = 0; l < layers; l++) {
                    dims[l] = batch.dim(l);
                    for (int c = 0; c < numClasses; c++) {
                        locSum[c][l] = new double[dims[l]];
                        refSum[c][l] = new double[dims[l]];
                    }
                }
            }
            for (int i = 0; i < batch.size(); i++) {
                int p = batch.predicted()[i];
                int y = batch.labels()[i];
                if (p < 0 || p >= numClasses || y < 0 || y >= numClasses) {
                    throw new IllegalArgumentException("label " + y + " or prediction " + p + " outside [0, "
                            + numClasses + ")");
                }
                nLoc[p]++;
                nRef[y]++;
                for (int l = 0; l < layers; l++) {
                    if (batch.dim(l) != dims[l]) {
                        throw new IllegalArgumentException("tap '" + taps.get(l) + "' changed dimension from " + dims[l]
                                + " to " + batch.dim(l));
                    }
                    float[] f = batch.features()[l];
                    int off = i * dims[l];
                    double[] lc = locSum[p][l];
                    double[] rc = refSum[y][l];
                    for (int k = 0; k < dims[l]; k++) {
                        float v = f[off + k];
                        if (!Float.isFinite(v)) {
                            throw new IllegalArgumentException("non-finite feature " + v + " at tap '" + taps.get(l)
                                    + "' (a clean sample of class " + y + "): the model produces NaN/Inf activations");
                        }
                        lc[k] += v;
                        rc[k] += v;
                    }
                }
            }
        }

        double[][][] centroids(double[][][] sum, int[] counts, String what) {
            double[][][] out = new double[numClasses][layers][];
            for (int c = 0; c < numClasses; c++) {
                if (counts[c] < 2) {
                    throw new IllegalArgumentException("class " + c + " has " + counts[c] + " " + what
                            + " clean samples, at least 2 are needed: use a larger --clean-fraction");
                }
                for (int l = 0; l < layers; l++) {
                    out[c][l] = new double[dims[l]];
                    for (int k = 0; k < dims[l]; k++) {
                        out[c][l][k] = sum[c][l][k] / counts[c];
                    }
                }
            }
            return out;
        }
    }
}
