package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.eval.Evaluator;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.PurificationReport;
import dev.backdoorguard.offline.purify.Purifier;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What every {@code guard purify} command shares: input and output bundles, the optional
 * before/after evaluation, and the report. The input bundle is only read; the output is written
 * atomically.
 */
public final class PurificationRun {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The suspect model bundle (read only).")
    Path model;

    @Mixin OutputOptions output;

    @Option(names = "--eval-trigger", paramLabel = "NAME",
            description = "Measure ACC/ASR/RA before and after with this trigger (badnets, blended, wanet, sig).")
    String evalTrigger;

    @Option(names = "--eval-target", defaultValue = "0", paramLabel = "K",
            description = "Target class for --eval-trigger (default: ${DEFAULT-VALUE}).")
    int evalTarget;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of every random choice (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin TriggerOptions triggerOptions;

    @Mixin DataOptions data;

    /**
     * Fails early, before any work, on trigger options with no --eval-trigger to apply to and on outputs that
     * would lose or corrupt something.
     */
    void checkBeforeWork() throws IOException {
        triggerOptions.checkApplied(evalTrigger, "--eval-trigger");
        checkApart("--out", output.out, "--model", model);
        output.checkFree();
    }

    /**
     * Refuses two directories of a run that are the same or nested (through {@code ..} or symbolic
     * links too): writing or replacing one would delete or write into the other, e.g. the input bundle.
     */
    static void checkApart(String written, Path writtenDir, String other, Path otherDir) throws IOException {
        Path a = canonical(writtenDir);
        Path b = canonical(otherDir);
        if (a.equals(b) || (Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b))) {  // e.g. bind mounts
            throw new IllegalArgumentException(written + " must differ from " + other + " (" + otherDir + ")");
        }
        if (a.startsWith(b) || b.startsWith(a)) {
            throw new IllegalArgumentException(written + " " + writtenDir + " and " + other + " " + otherDir
                    + " are nested: one would be written inside or over the other");
        }
    }

    /** The absolute path with every existing part's symbolic links resolved. */
    private static Path canonical(Path p) throws IOException {
        Path abs = p.toAbsolutePath().normalize();
        if (Files.exists(abs)) {
            return abs.toRealPath();
        }
        Path parent = abs.getParent();
        return parent == null ? abs : canonical(parent).resolve(abs.getFileName());
    }

    /** The before/after evaluation, when --eval-trigger is given. */
    final class Evaluation {
        final ImageDataset test;
        final Trigger trigger;

        Evaluation(Classifier classifier) throws IOException {
            test = data.load(Datasets.Split.TEST, classifier.spec().numClasses());
            if (evalTarget < 0 || evalTarget >= classifier.spec().numClasses()) {
                throw new IllegalArgumentException("--eval-target " + evalTarget + " is outside [0, "
                        + classifier.spec().numClasses() + ")");
            }
            trigger = triggerOptions.create(evalTrigger, test.shape());
        }

        AttackMetrics measure(Classifier classifier) {
            return new Evaluator(Evaluator.DEFAULT_BATCH).evaluate(classifier, test, trigger, evalTarget);
        }

        /** Seconds of silent work otherwise (10,000 clean and 9,000 triggered images): say what is running. */
        AttackMetrics measure(Classifier classifier, String when) {
            long start = System.nanoTime();
            System.err.printf("purify: measuring ACC/ASR/RA %s purification on %d test images ...%n", when, test.size());
            AttackMetrics m = measure(classifier);
            System.err.printf("purify: measured in %.1f s%n", (System.nanoTime() - start) / 1e9);
            return m;
        }
    }

    /**
     * The --eval-trigger measurement as a function a purifier can call during its run (SEAM's
     * --track-asr, DHBE's --eval-every) on {@code select} of the test set; the test set is loaded
     * on the first call.
     */
    Function<Classifier, AttackMetrics> lazyEvaluation(UnaryOperator<ImageDataset> select) {
        return new Function<>() {
            private Evaluation evaluation;
            private ImageDataset test;

            @Override
            public AttackMetrics apply(Classifier classifier) {
                if (evaluation == null) {
                    try {
                        evaluation = new Evaluation(classifier);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    test = select.apply(evaluation.test);
                }
                return new Evaluator(Evaluator.DEFAULT_BATCH).evaluate(classifier, test, evaluation.trigger, evalTarget);
            }
        };
    }

    /** Loads, optionally evaluates, purifies, evaluates again, writes the bundle and prints the outcome. */
    int execute(Purifier purifier, PurificationData clean, ObjectNode extraReport, Map<String, byte[]> extraFiles,
            PrintWriter stdout) throws IOException {
        checkBeforeWork();
        long start = System.nanoTime();
        try (Classifier classifier = Classifier.load(model, Architectures.standard())) {
            Evaluation evaluation = evalTrigger == null ? null : new Evaluation(classifier);
            AttackMetrics before = evaluation == null ? null : evaluation.measure(classifier, "before");
            long purifyStart = System.nanoTime();
            PurificationReport result = purifier.purify(classifier, clean);
            double purifySeconds = (System.nanoTime() - purifyStart) / 1e9;
            AttackMetrics after = evaluation == null ? null : evaluation.measure(classifier, "after");

            ObjectNode report = Reports.header("purify " + purifier.name(), seed);
            report.put("method", result.method());
            report.set("config", result.config());
            ObjectNode input = report.putObject("input");
            input.put("model", model.toString());
            input.put("weights_sha256", Bundles.sha256(model.resolve(Classifier.WEIGHTS)));
            input.put("model_json_sha256", Bundles.sha256(model.resolve(Classifier.MODEL_JSON)));
            if (!clean.isEmpty()) {
                input.put("clean_images", clean.clean().size());
                input.put("clean_indices_sha256", clean.indicesHash());
            } else {
                input.put("clean_images", 0);
            }
            report.set("details", result.details());
            if (extraReport != null) {
                report.setAll(extraReport);
            }
            if (evaluation != null) {
                ObjectNode eval = report.putObject("evaluation");
                eval.put("trigger", evalTrigger).put("target", evalTarget).put("trigger_seed", triggerOptions.seed());
                eval.set("before", Reports.metrics(before));
                eval.set("after", Reports.metrics(after));
                eval.put("der", der(before, after));
                eval.put("fidelity", fidelity(before, after));
            }
            report.put("purify_seconds", purifySeconds);
            report.put("wall_seconds", (System.nanoTime() - start) / 1e9);

            ObjectNode provenance = classifier.spec().provenance().deepCopy();
            provenance.put("purified_by", "backdoor-guard " + VersionProvider.version() + " " + purifier.name());
            provenance.put("purified_from_weights_sha256", input.get("weights_sha256").asText());
            Map<String, byte[]> files = new LinkedHashMap<>(extraFiles);
            files.putAll(result.files());
            Bundles.write(output.out, output.force, classifier.spec().withProvenance(provenance), classifier.stateDict(), report, files);

            if (output.json) {
                stdout.println(Reports.JSON.writeValueAsString(report));
            } else {
                stdout.printf("%s (%.2f s)%n", result.summary(), purifySeconds);
                if (evaluation != null) {
                    Reports.printMetrics(stdout, "before:", before);
                    Reports.printMetrics(stdout, "after:", after);
                    stdout.printf("  DER  %7.2f%%   Fidelity %.4f%n", 100 * der(before, after), fidelity(before, after));
                }
                stdout.println("  wrote " + output.out + " (report.json has the details)");
            }
            return 0;
        }
    }

    /** SEAM's Fidelity: (ACC_after - ASR_after) / ACC_before (DESIGN.md §5). */
    static double fidelity(AttackMetrics before, AttackMetrics after) {
        return (after.acc() - after.asr()) / before.acc();
    }

    /** Defense effectiveness rating: [max(0, ΔASR) - max(0, ΔACC) + 1] / 2 (BackdoorBench). */
    static double der(AttackMetrics before, AttackMetrics after) {
        return (Math.max(0, before.asr() - after.asr()) - Math.max(0, before.acc() - after.acc()) + 1) / 2;
    }
}
