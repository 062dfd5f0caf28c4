package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.detect.ClassStatistics;
import dev.backdoorguard.core.detect.DetectorCalibration;
import dev.backdoorguard.core.eval.DetectorEvaluator;
import dev.backdoorguard.core.eval.DetectorMetrics;
import dev.backdoorguard.offline.report.HistogramChart;
import dev.backdoorguard.offline.report.LineChart;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/** The detector's figures as report JSON, a human table and PNG charts (calibrate, evaluate --detector). */
final class DetectorReports {
    static final String HISTOGRAM_PNG = "calibration-scores.png";
    static final String ROC_PNG = "calibration-roc.png";

    private DetectorReports() {}

    static ObjectNode metrics(DetectorMetrics m) {
        ObjectNode n = Reports.JSON.createObjectNode();
        n.put("tpr", m.tpr());
        n.put("fpr", m.fpr());
        n.put("auroc", m.auroc());
        n.put("true_positives", m.truePositives());
        n.put("triggered_total", m.triggeredTotal());
        n.put("false_positives", m.falsePositives());
        n.put("clean_total", m.cleanTotal());
        n.put("misclassified_clean_flagged", m.misclassifiedFlagged());
        n.put("misclassified_clean_total", m.misclassifiedTotal());
        ArrayNode rates = n.putArray("class_flag_rates");
        for (double r : m.classFlagRates()) {
            rates.add(r);
        }
        return n;
    }

    static ObjectNode calibration(DetectorCalibration cal) {
        ObjectNode n = Reports.JSON.createObjectNode();
        n.put("weight_mode", cal.weightMode().id());
        n.put("score", cal.scoreRule().id());
        n.put("threshold_rule", cal.rule().kind().id());
        n.put("rule", cal.rule().describe());
        ArrayNode classes = n.putArray("classes");
        for (ClassStatistics s : cal.classes()) {
            ObjectNode c = classes.addObject();
            c.put("class", s.classIndex());
            c.put("lstar", s.criticalLayer());
            c.put("lstar_tap", cal.taps().get(s.criticalLayer()));
            c.put("mean", s.mean());
            c.put("std", s.std());
            c.put("threshold", s.threshold());
            c.put("n_loc", s.localisationSamples());
            c.put("n_ref", s.referenceSamples());
        }
        ArrayNode warnings = n.putArray("warnings");
        cal.warnings().forEach(warnings::add);
        return n;
    }

    static void printCalibration(PrintWriter out, DetectorCalibration cal) {
        out.printf("  score %s, rule %s, weights %s%n", cal.scoreRule().id(), cal.rule().describe(),
                cal.weightMode().id());
        out.printf("  %5s %3s %-14s %-26s %9s %9s %9s %5s %5s%n", "class", "l*", "critical tap", "S", "mean", "std",
                "threshold", "n_loc", "n_ref");
        for (ClassStatistics s : cal.classes()) {
            StringBuilder set = new StringBuilder();
            for (int l : s.candidates()) {
                set.append(set.length() == 0 ? "" : ",").append(cal.taps().get(l));
            }
            out.printf("  %5d %3d %-14s %-26s %9.5f %9.5f %9.5f %5d %5d%n", s.classIndex(), s.criticalLayer(),
                    cal.taps().get(s.criticalLayer()), set, s.mean(), s.std(), s.threshold(), s.localisationSamples(),
                    s.referenceSamples());
        }
        for (String w : cal.warnings()) {
            out.println("  warning: " + w);
        }
    }

    static void printMetrics(PrintWriter out, DetectorMetrics m) {
        out.printf("  %-5s %7.2f%%  (%d/%d successful triggered images flagged)%n", "TPR", 100 * m.tpr(),
                m.truePositives(), m.triggeredTotal());
        out.printf("  %-5s %7.2f%%  (%d/%d clean test images flagged; misclassified ones: %d/%d)%n", "FPR",
                100 * m.fpr(), m.falsePositives(), m.cleanTotal(), m.misclassifiedFlagged(), m.misclassifiedTotal());
        out.printf("  %-5s %8.4f%n", "AUROC", m.auroc());
        StringBuilder rates = new StringBuilder();
        for (int c = 0; c < m.classFlagRates().length; c++) {
            rates.append(String.format(" %d:%.1f%%", c, 100 * m.classFlagRates()[c]));
        }
        out.println("  clean flag rate per predicted class:" + rates);
    }

    /** The score histogram (benign vs triggered, margin z, with τ when gaussian) and the ROC curve. */
    static Map<String, byte[]> charts(DetectorEvaluator.Result r, DetectorCalibration cal) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        HistogramChart histogram = new HistogramChart("Detector score z = (m - s) / std", "z (larger = more suspicious)")
                .add("clean test images", r.cleanScores())
                .add("successful triggered images", r.triggeredScores());
        if (cal.rule().kind() == dev.backdoorguard.core.detect.ThresholdRule.Kind.GAUSSIAN) {
            histogram.marker("tau = " + cal.rule().tau(), cal.rule().tau());
        }
        files.put(HISTOGRAM_PNG, histogram.png());
        double[][] roc = thin(DetectorMetrics.rocCurve(r.triggeredScores(), r.cleanScores()), 200);
        files.put(ROC_PNG, new LineChart(String.format("ROC (AUROC %.4f)", r.metrics().auroc()), "false-positive rate",
                "true-positive rate").add(new LineChart.Series("critical-layer", roc[0], roc[1])).png());
        return files;
    }

    /** At most about {@code max} points of a curve (every k-th, and always the last), so markers stay readable. */
    static double[][] thin(double[][] curve, int max) {
        int n = curve[0].length;
        int step = Math.max(1, (n + max - 1) / max);
        int kept = (n - 1) / step + 1 + ((n - 1) % step == 0 ? 0 : 1);
        double[][] out = new double[2][kept];
        int j = 0;
        for (int i = 0; i < n; i += step) {
            out[0][j] = curve[0][i];
            out[1][j++] = curve[1][i];
        }
        if (j < kept) {
            out[0][j] = curve[0][n - 1];
            out[1][j] = curve[1][n - 1];
        }
        return out;
    }
}
