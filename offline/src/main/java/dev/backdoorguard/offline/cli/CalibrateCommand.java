package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.FloatFormat;
import dev.backdoorguard.core.bundle.AtomicDirectory;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.detect.ClassifierFeatures;
import dev.backdoorguard.core.detect.CriticalLayerCalibration;
import dev.backdoorguard.core.detect.DetectorArtifact;
import dev.backdoorguard.core.detect.DetectorCalibration;
import dev.backdoorguard.core.detect.ScoreRule;
import dev.backdoorguard.core.detect.ThresholdRule;
import dev.backdoorguard.core.detect.WeightMode;
import dev.backdoorguard.core.eval.DetectorEvaluator;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.offline.purify.PurificationData;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code guard calibrate}: calibrates the critical-layer detector on the defender's clean data and
 * writes {@code detector.json}, {@code detector.safetensors} and {@code calibration-report.json}
 * (plus charts with an evaluation trigger) into the bundle, swapping the whole directory atomically;
 * every other file of the bundle is copied byte for byte.
 */
@Command(
        name = "calibrate",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Calibrate the critical-layer input filter of a model bundle from clean training data and write"
                    + " detector.json and detector.safetensors into the bundle (atomically; the rest of the bundle is"
                    + " kept byte for byte). With --eval-trigger, also measure TPR, FPR and AUROC on the clean test"
                    + " set vs successful triggered test images; figures go to calibration-report.json (report.json,"
                    + " the provenance of the weights, is left untouched) and the score histogram and ROC curve to"
                    + " PNGs in the bundle.",
            ""
        })
public final class CalibrateCommand implements Callable<Integer> {
    static final String REPORT = "calibration-report.json";
    /** Files this command owns in a bundle; everything else is preserved byte for byte. */
    private static final Set<String> OWN_FILES = Set.of(DetectorArtifact.JSON_FILE, DetectorArtifact.TENSORS_FILE,
            REPORT, DetectorReports.HISTOGRAM_PNG, DetectorReports.ROC_PNG);

    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "The model bundle to calibrate (the detector files are written into it).")
    Path model;

    @Mixin CleanDataOptions clean;

    @Option(names = "--tau", paramLabel = "T",
            description = "Gaussian rule: flag when the score is below mean - T * std of the class's benign scores"
                    + " (default rule, T = 2.5; not with --fpr).")
    Double tau;

    @Option(names = "--fpr", paramLabel = "Q",
            description = "Quantile rule: the threshold is the empirical Q-quantile of the class's benign scores,"
                    + " for a target false-positive rate Q in (0, 1) (not with --tau).")
    Double fpr;

    @Option(names = "--weight-mode", defaultValue = "unweighted", paramLabel = "MODE",
            description = "unweighted (default: sum of the 3 cosines), per-class (weights: the class's own"
                    + " similarity increases) or code-faithful (the reference code: class K-1's increases for every"
                    + " class; fails when the critical layer is the last tap).")
    String weightMode;

    @Option(names = "--score", defaultValue = "cosine-sum", paramLabel = "RULE",
            description = "cosine-sum (default, the specified detector: the sum of the cosines at the critical layer"
                    + " and the two taps before it) or mahalanobis (a named deviation: every class scores the same"
                    + " taps, from the one before the deeper half to the last before the logits; its score is minus"
                    + " the squared Mahalanobis distance of their cosines from the class's benign ones, so inputs far"
                    + " from them score low and are flagged; it catches backdoors that separate at middle taps when"
                    + " the critical layer is a late one, see docs/BENCHMARKS.md section 4; writes detector.json"
                    + " format 2; --weight-mode unweighted only).")
    String score;

    @Option(names = "--centroid-dtype", defaultValue = "F32", paramLabel = "F32|F16",
            description = "How detector.safetensors stores the class centroids: F32 (default, exact) or F16 (half"
                    + " the size, for small bundles or many classes; the centroids are rounded before the benign"
                    + " statistics are computed, so the thresholds match what is served).")
    String centroidDtype;

    @Option(names = "--seed", defaultValue = "0",
            description = "Seed of the clean-data draw (default: ${DEFAULT-VALUE}; the set `guard attack` held out"
                    + " for the same seed and fraction).")
    long seed;

    @Option(names = "--batch-size", defaultValue = "128", paramLabel = "B",
            description = "Feature-extraction batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--eval-trigger", paramLabel = "NAME",
            description = "Evaluate the calibrated detector with this trigger (badnets, blended, wanet, sig).")
    String evalTrigger;

    @Option(names = "--eval-target", defaultValue = "0", paramLabel = "K",
            description = "Target class for --eval-trigger (default: ${DEFAULT-VALUE}).")
    int evalTarget;

    @Mixin TriggerOptions triggerOptions;

    @Mixin DataOptions data;

    @Option(names = "--json", description = "Print one JSON object (the calibration report) instead of the table.")
    boolean json;

    private ThresholdRule rule() {
        if (tau != null && fpr != null) {
            throw new IllegalArgumentException("--tau and --fpr choose different threshold rules: give one of them");
        }
        if (fpr != null) {
            if (!(fpr > 0 && fpr < 1)) {
                throw new IllegalArgumentException("--fpr must be in (0, 1), got " + fpr);
            }
            return ThresholdRule.quantile(fpr);
        }
        double t = tau == null ? ThresholdRule.DEFAULT_TAU : tau;
        if (!(t > 0) || !Double.isFinite(t)) {
            throw new IllegalArgumentException("--tau must be a positive number, got " + t);
        }
        return ThresholdRule.gaussian(t);
    }

    @Override
    public Integer call() throws Exception {
        triggerOptions.checkApplied(evalTrigger, "--eval-trigger");
        ThresholdRule rule = rule();
        WeightMode mode = WeightMode.parse(weightMode);
        ScoreRule scoreRule;
        try {
            scoreRule = ScoreRule.parse(score);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--score: " + e.getMessage());
        }
        if (scoreRule == ScoreRule.MAHALANOBIS && mode != WeightMode.UNWEIGHTED) {
            throw new IllegalArgumentException("--weight-mode " + mode.id() + " weights the cosine sum; --score "
                    + scoreRule.id() + " has no layer weights: leave --weight-mode at unweighted");
        }
        FloatFormat centroidFormat;
        try {
            centroidFormat = FloatFormat.parse(centroidDtype);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--centroid-dtype: " + e.getMessage());
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        AtomicDirectory.recover(model); // a run killed mid-swap left the bundle under a temporary name
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException(model + ": model bundle directory not found");
        }
        AtomicDirectory.checkWritable(model); // the bundle is rewritten in place: fail now, not after calibrating
        long start = System.nanoTime();
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr());
        String weightsSha = Bundles.sha256(model.resolve(Classifier.WEIGHTS));
        String modelJsonSha = Bundles.sha256(model.resolve(Classifier.MODEL_JSON));
        try (Classifier classifier = Classifier.load(model, Architectures.standard())) {
            int k = classifier.spec().numClasses();
            if (evalTrigger != null && (evalTarget < 0 || evalTarget >= k)) {
                throw new IllegalArgumentException("--eval-target " + evalTarget + " is outside [0, " + k + ")");
            }
            // Made now, so that a misspelt trigger fails before the feature passes rather than after them.
            Trigger trigger = evalTrigger == null ? null
                    : triggerOptions.create(evalTrigger, classifier.spec().inputShape());
            PurificationData cleanData = clean.load(data, k, seed);
            ImageDataset cleanSet = cleanData.clean();
            ClassifierFeatures features = new ClassifierFeatures(classifier, cleanSet, batchSize,
                    done -> progress.features(done, cleanSet.size()));
            long calibrateStart = System.nanoTime();
            DetectorCalibration calibration = new CriticalLayerCalibration(classifier.architecture().taps(), k, mode,
                    scoreRule, rule, centroidFormat).calibrate(features);
            double calibrateSeconds = (System.nanoTime() - calibrateStart) / 1e9;

            ObjectNode provenance = provenance(classifier, cleanData, weightsSha, modelJsonSha);
            DetectorArtifact artifact = new DetectorArtifact(calibration, provenance);
            ObjectNode report = Reports.header("calibrate", seed);
            report.put("method", DetectorCalibration.METHOD);
            ObjectNode config = report.putObject("config");
            config.put("weight_mode", mode.id());
            config.put("score", scoreRule.id());
            config.put("centroid_dtype", centroidFormat.name());
            config.put("threshold_rule", rule.kind().id());
            config.put("tau", rule.tau());
            config.put("target_fpr", rule.targetFpr());
            config.put("clean_fraction", clean.fraction);
            config.put("batch_size", batchSize);
            report.set("input", provenance.deepCopy());
            report.set("calibration", DetectorReports.calibration(calibration));
            report.put("calibrate_seconds", calibrateSeconds);

            Map<String, byte[]> charts = Map.of();
            DetectorEvaluator.Result result = null;
            if (evalTrigger != null) {
                ImageDataset test = data.load(Datasets.Split.TEST, k);
                // Served exactly as the server will; it shares the classifier (and its manager, where
                // the centroids go), which the enclosing try closes.
                ModelGuard evaluated = new ModelGuard(classifier, calibration, weightsSha);
                int total = test.size() + (int) java.util.Arrays.stream(test.labels()).filter(l -> l != evalTarget)
                        .count();
                result = new DetectorEvaluator(batchSize).evaluate(evaluated, test, trigger, evalTarget,
                        done -> progress.update("evaluate", done, total));
                ObjectNode eval = report.putObject("evaluation");
                eval.put("trigger", evalTrigger).put("target", evalTarget).put("trigger_seed", triggerOptions.seed());
                eval.setAll(DetectorReports.metrics(result.metrics()));
                charts = DetectorReports.charts(result, calibration);
            }
            report.put("wall_seconds", (System.nanoTime() - start) / 1e9);
            writeBundle(artifact, report, charts, weightsSha, modelJsonSha);

            if (json) {
                out.println(Reports.JSON.writeValueAsString(report));
            } else {
                out.printf("calibrate %s (%s, %d clean images): %.1f s%n", model, classifier.spec().architecture(),
                        cleanSet.size(), (System.nanoTime() - start) / 1e9);
                DetectorReports.printCalibration(out, calibration);
                if (result != null) {
                    out.printf("evaluation, trigger %s target %d:%n", evalTrigger, evalTarget);
                    DetectorReports.printMetrics(out, result.metrics());
                }
                out.println("  wrote " + DetectorArtifact.JSON_FILE + ", " + DetectorArtifact.TENSORS_FILE + " and "
                        + REPORT + (result == null ? "" : " (+ score histogram and ROC PNGs)") + " into " + model);
            }
            return 0;
        }
    }

    private ObjectNode provenance(Classifier classifier, PurificationData cleanData, String weightsSha,
            String modelJsonSha) {
        ObjectNode p = Reports.JSON.createObjectNode();
        p.put("weights_sha256", weightsSha);
        p.put("model_json_sha256", modelJsonSha);
        ObjectNode normalize = p.putObject("normalize");
        ArrayNode mean = normalize.putArray("mean");
        ArrayNode std = normalize.putArray("std");
        for (int c = 0; c < classifier.spec().channels(); c++) {
            mean.add(classifier.spec().mean()[c]);
            std.add(classifier.spec().std()[c]);
        }
        p.put("seed", seed);
        ObjectNode cleanSpec = p.putObject("clean_data");
        cleanSpec.put("split", "train");
        cleanSpec.put("fraction", clean.fraction);
        cleanSpec.put("seed", seed);
        cleanSpec.put("images", cleanData.clean().size());
        cleanSpec.put("indices_sha256", cleanData.indicesHash());
        cleanSpec.put("data_dir", data.directory().toString());
        p.put("tool_version", VersionProvider.version());
        p.put("created", java.time.Instant.now().toString());
        return p;
    }

    /**
     * Builds the complete new bundle in a temporary sibling (every file but the ones this command
     * owns copied byte for byte, then the new detector files) and swaps it in; refuses if the weights
     * or model.json changed while calibrating.
     */
    private void writeBundle(DetectorArtifact artifact, ObjectNode report, Map<String, byte[]> charts,
            String weightsSha, String modelJsonSha) throws IOException {
        AtomicDirectory.write(model, true, dir -> {
            try (Stream<Path> files = Files.list(model)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (OWN_FILES.contains(name)) {
                        continue;
                    }
                    if (!Files.isRegularFile(f)) {
                        throw new IllegalArgumentException(f + ": a bundle holds plain files only");
                    }
                    Files.copy(f, dir.resolve(name));
                }
            }
            if (!Bundles.sha256(dir.resolve(Classifier.WEIGHTS)).equals(weightsSha)
                    || !Bundles.sha256(dir.resolve(Classifier.MODEL_JSON)).equals(modelJsonSha)) {
                throw new IOException(model + ": weights.safetensors or model.json changed during calibration");
            }
            artifact.write(dir);
            for (Map.Entry<String, byte[]> e : new LinkedHashMap<>(charts).entrySet()) {
                Files.write(dir.resolve(e.getKey()), e.getValue());
            }
            Reports.JSON.writeValue(dir.resolve(REPORT).toFile(), report);
        });
    }

    /** Progress on stderr: a line per quarter of each step (no terminal tricks needed for seconds-long steps). */
    private static final class Progress {
        private final PrintWriter err;
        private String step = "";
        private int lastQuarter = -1;
        private int pass;
        private int previous = Integer.MAX_VALUE;

        Progress(PrintWriter err) {
            this.err = err;
        }

        /** Feature extraction restarts from the first batch on each of the calibration's two passes. */
        void features(int done, int total) {
            if (done <= previous) {
                pass++;
            }
            previous = done;
            update("features pass " + pass + "/2", done, total);
        }

        void update(String name, int done, int total) {
            if (!name.equals(step)) {
                step = name;
                lastQuarter = -1;
            }
            int quarter = total == 0 ? 4 : 4 * done / total;
            if (quarter != lastQuarter) {
                lastQuarter = quarter;
                err.printf("calibrate: %s %d/%d%n", name, done, total);
                err.flush();
            }
        }
    }
}
