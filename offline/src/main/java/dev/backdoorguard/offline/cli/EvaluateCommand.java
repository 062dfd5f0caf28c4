package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.detect.DetectorArtifact;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.eval.DetectorEvaluator;
import dev.backdoorguard.core.eval.DetectorMetrics;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.core.eval.Evaluator;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.trigger.Trigger;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard evaluate}: ACC, and with a trigger ASR and RA, of a bundle on the test set. */
@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Measure a model bundle on the clean test set (ACC) and, with --trigger, on the triggered test images"
                    + " whose true label is not the target (ASR: predicted as target; RA: still correct); with"
                    + " --detector, also its calibrated detector (TPR, FPR, AUROC).",
            ""
        })
public final class EvaluateCommand implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The model bundle directory.")
    Path model;

    @Option(names = "--trigger", paramLabel = "NAME", description = "Trigger: badnets, blended, wanet, sig.")
    String trigger;

    @Mixin TriggerOptions triggerOptions;

    @Option(names = "--target", defaultValue = "0", paramLabel = "K",
            description = "Target class of the backdoor (default: ${DEFAULT-VALUE}).")
    int target;

    @Option(names = "--batch-size", defaultValue = "256", paramLabel = "B",
            description = "Evaluation batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin DataOptions data;

    @Option(names = "--detector",
            description = "Also measure the bundle's calibrated detector (needs --trigger): TPR and FPR at its"
                    + " threshold and AUROC, clean test images vs successful triggered ones.")
    boolean detector;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    /** Seconds of silent work otherwise: say what is running (stderr, so --json output stays clean). */
    private void announce(ImageDataset test) {
        System.err.println("evaluate: running " + test.size() + " test images" + (trigger == null ? ""
                : ", clean and triggered") + (detector ? ", with the detector" : "") + " ...");
    }

    @Override
    public Integer call() throws Exception {
        if (detector && trigger == null) {
            throw new IllegalArgumentException("--detector needs --trigger (the triggered images it must flag)");
        }
        triggerOptions.checkApplied(trigger, "--trigger");
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        if (detector && !DetectorArtifact.isPresent(model)) {
            // Before the engine starts and the weights load: the bundle's files say it already.
            throw new IllegalArgumentException("--detector: " + model + " has no calibrated detector (no "
                    + DetectorArtifact.JSON_FILE + "; run guard calibrate --model " + model + " first)");
        }
        long start = System.nanoTime();
        ModelSpec modelSpec;
        AttackMetrics m;
        DetectorMetrics dm = null;
        if (detector) {
            // One load and one pair of passes: the guarded pass's predictions give ACC, ASR and RA too.
            try (ModelGuard guard = ModelGuard.load(model, Architectures.standard())) {
                modelSpec = guard.spec();
                ImageDataset test = testSet(modelSpec);
                Trigger t = triggerOptions.create(trigger, test.shape());
                announce(test);
                DetectorEvaluator.Result r = new DetectorEvaluator(batchSize).evaluate(guard, test, t, target,
                        done -> {});
                m = r.attack();
                dm = r.metrics();
            }
        } else {
            try (Classifier classifier = Classifier.load(model, Architectures.standard())) {
                modelSpec = classifier.spec();
                ImageDataset test = testSet(modelSpec);
                Trigger t = trigger == null ? null : triggerOptions.create(trigger, test.shape());
                announce(test);
                m = new Evaluator(batchSize).evaluate(classifier, test, t, target);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode r = Reports.header("evaluate", 0);
            r.put("model", model.toString());
            r.put("weights_sha256", Bundles.sha256(model.resolve(Classifier.WEIGHTS)));
            r.put("architecture", modelSpec.architecture());
            if (trigger != null) {
                r.put("trigger", trigger);
                r.put("trigger_seed", triggerOptions.seed());
                r.put("target", target);
            }
            r.set("metrics", Reports.metrics(m));
            if (dm != null) {
                r.set("detector", DetectorReports.metrics(dm));
            }
            r.put("wall_seconds", seconds);
            spec.commandLine().getOut().println(Reports.JSON.writeValueAsString(r));
        } else {
            Reports.printMetrics(spec.commandLine().getOut(), String.format("evaluate %s (%s)%s: %.1f s", model,
                    modelSpec.architecture(), trigger == null ? "" : " trigger " + trigger + " target " + target,
                    seconds), m);
            if (dm != null) {
                spec.commandLine().getOut().println("detector:");
                DetectorReports.printMetrics(spec.commandLine().getOut(), dm);
            }
        }
        return 0;
    }

    /** The test split for {@code modelSpec}'s classes, after checking --target against them. */
    private ImageDataset testSet(ModelSpec modelSpec) throws java.io.IOException {
        if (target < 0 || target >= modelSpec.numClasses()) {
            throw new IllegalArgumentException("--target " + target + " is outside [0, " + modelSpec.numClasses() + ")");
        }
        return data.load(Datasets.Split.TEST, modelSpec.numClasses());
    }
}
