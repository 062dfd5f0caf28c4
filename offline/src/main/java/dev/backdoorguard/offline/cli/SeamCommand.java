package dev.backdoorguard.offline.cli;

import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.seam.LabelSampling;
import dev.backdoorguard.offline.purify.seam.SeamConfig;
import dev.backdoorguard.offline.purify.seam.SeamPurifier;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard purify seam}: selective amnesia, forget then recover, on the defender's clean data. */
@Command(
        name = "seam",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "SEAM, selective amnesia (IEEE S&P 2023): fine-tune on a tiny class-balanced forget set with random wrong"
                    + " labels, re-drawn every batch, until held-out accuracy falls below 2/K (the model forgets the"
                    + " task and the backdoor), then recover the task with a fresh Adam on the recovery set until a"
                    + " patience rule fires. Both stop rules read a held-out share of the clean data, never the"
                    + " test set. Defaults are the official CIFAR settings; if the forget phase hits --max-epochs,"
                    + " its learning rate escalates along --forget-lr-ladder (each attempt restarts from the suspect"
                    + " weights and is recorded in report.json); if no rate converges, nothing is written unless"
                    + " --allow-unconverged. Writes seam-curve.png (held-out accuracy per epoch) into the bundle.",
            ""
        })
public final class SeamCommand implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Mixin PurificationRun run;

    @Option(names = "--clean-fraction", defaultValue = "0.1", paramLabel = "F",
            description = "Share of the training split the defender holds, class-balanced, in (0, 1]; split into the"
                    + " held-out and recovery sets (default: ${DEFAULT-VALUE}, 6,000 Fashion-MNIST images).")
    double cleanFraction;

    @Option(names = "--holdout-fraction", defaultValue = "0.15", paramLabel = "H",
            description = "Share of the clean data held out for the stop rules and never trained on, in (0, 1)"
                    + " (default: ${DEFAULT-VALUE}).")
    double holdoutFraction;

    @Option(names = "--forget-fraction", defaultValue = "0.001", paramLabel = "F",
            description = "Size of the class-balanced forget set as a share of the whole training split, drawn from"
                    + " the recovery set (default: ${DEFAULT-VALUE}, i.e. 6 images per class on Fashion-MNIST).")
    double forgetFraction;

    @Option(names = "--random-labels", defaultValue = "exclude-true", paramLabel = "MODE",
            description = "Forget-phase labels: exclude-true (uniform over the K-1 wrong classes, the official CIFAR"
                    + " code) or include-true (uniform over all K, the TrojAI/TrojanZoo variants); re-drawn every"
                    + " batch (default: ${DEFAULT-VALUE}).")
    String randomLabels;

    @Option(names = "--with-replacement",
            description = "Draw the recovery and forget sets as the reference code does: class-balanced, independently"
                    + " and with replacement from the non-held-out clean data, so images can repeat and the sets can"
                    + " overlap (default: without replacement, the forget set inside the recovery set). The held-out"
                    + " set stays disjoint either way.")
    boolean withReplacement;

    @Option(names = "--forget-lr", defaultValue = "3e-5", paramLabel = "LR",
            description = "Forget-phase Adam learning rate, betas (0.9, 0.999) (default: ${DEFAULT-VALUE}).")
    double forgetLr;

    @Option(names = "--forget-lr-ladder", defaultValue = "3e-4,1e-3", split = ",", paramLabel = "LR",
            description = "Rates tried in turn when a forget attempt hits --max-epochs above the threshold; 'none'"
                    + " disables escalation (default: ${DEFAULT-VALUE}: 10x and about 30x the reference's 3e-5).")
    List<String> forgetLadder;

    @Option(names = "--forget-weight-decay", defaultValue = "5e-5", paramLabel = "WD",
            description = "Forget-phase Adam weight decay, coupled L2 (default: ${DEFAULT-VALUE}).")
    double forgetWeightDecay;

    @Option(names = "--forget-below", paramLabel = "ACC",
            description = "Held-out accuracy that ends the forget phase (default: 2/K, twice chance).")
    Double forgetBelow;

    @Option(names = "--recover-lr", defaultValue = "5e-4", paramLabel = "LR",
            description = "Recover-phase Adam learning rate (default: ${DEFAULT-VALUE}).")
    double recoverLr;

    @Option(names = "--recover-betas", defaultValue = "0.5,0.9", split = ",", paramLabel = "B",
            description = "Recover-phase Adam betas (default: ${DEFAULT-VALUE}, the official code's).")
    List<Double> recoverBetas;

    @Option(names = "--recover-weight-decay", defaultValue = "5e-5", paramLabel = "WD",
            description = "Recover-phase Adam weight decay, coupled L2 (default: ${DEFAULT-VALUE}).")
    double recoverWeightDecay;

    @Option(names = "--recover-target-ratio", defaultValue = "0.98", paramLabel = "R",
            description = "Recover target as a share of the pre-SEAM held-out accuracy (default: ${DEFAULT-VALUE}).")
    double recoverTargetRatio;

    @Option(names = "--recover-target", paramLabel = "ACC",
            description = "Absolute recover target instead (the official CIFAR code uses 0.92).")
    Double recoverTarget;

    @Option(names = "--patience", defaultValue = "10", paramLabel = "N",
            description = "Recover epochs counted before stopping: above the target, or after --plateau-after below"
                    + " the best - 0.001 (default: ${DEFAULT-VALUE}).")
    int patience;

    @Option(names = "--plateau-after", defaultValue = "50", paramLabel = "E",
            description = "Recover epoch index after which a plateau also counts (default: ${DEFAULT-VALUE}).")
    int plateauAfter;

    @Option(names = "--max-epochs", defaultValue = "300", paramLabel = "N",
            description = "Cap of every forget attempt and of the recover phase (default: ${DEFAULT-VALUE}).")
    int maxEpochs;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "B",
            description = "Mini-batch size of both phases; the last partial batch is kept (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--padding", defaultValue = "2", paramLabel = "P",
            description = "Random-crop padding of both phases' augmentation (default: ${DEFAULT-VALUE}).")
    int padding;

    @Option(names = "--flip", description = "Add a random horizontal flip to the augmentation (CIFAR; off for Fashion-MNIST).")
    boolean flip;

    @Option(names = "--allow-unconverged",
            description = "Recover and write the bundle even if no forget rate reached the threshold (marked in the"
                    + " report).")
    boolean allowUnconverged;

    @Option(names = "--track-asr",
            description = "With --eval-trigger: measure test ACC and ASR after every epoch into report.json and the"
                    + " chart (reporting only; the stop rules never see the test set), and the reference's"
                    + " oracle pick, the recovery epoch with the best test ACC - ASR, as an upper bound. Costs a"
                    + " test-set pass per epoch.")
    boolean trackAsr;

    @Override
    public Integer call() throws Exception {
        if (recoverTarget != null && spec.commandLine().getParseResult().hasMatchedOption("--recover-target-ratio")) {
            throw new IllegalArgumentException("give --recover-target (absolute) or --recover-target-ratio (relative),"
                    + " not both");
        }
        if (recoverBetas.size() != 2) {
            throw new IllegalArgumentException("--recover-betas takes two values B1,B2, got " + recoverBetas);
        }
        SeamConfig config = new SeamConfig(forgetFraction, holdoutFraction, batchSize, forgetLr, ladder(),
                forgetWeightDecay, forgetBelow == null ? Double.NaN : forgetBelow, LabelSampling.parse(randomLabels),
                recoverLr, recoverWeightDecay, recoverBetas.get(0), recoverBetas.get(1),
                recoverTarget == null ? Double.NaN : recoverTarget, recoverTargetRatio, patience, plateauAfter,
                maxEpochs, new Augmentation(padding, flip), allowUnconverged, withReplacement, run.seed);
        run.checkBeforeWork();
        int classes = Classifier.readSpec(run.model).numClasses();
        PurificationData data = CleanDataOptions.load(run.data, cleanFraction, classes, run.seed);
        if (trackAsr && run.evalTrigger == null) {
            throw new IllegalArgumentException("--track-asr needs --eval-trigger");
        }
        return run.execute(new SeamPurifier(config, spec.commandLine().getErr()::println,
                trackAsr ? run.lazyEvaluation(UnaryOperator.identity()) : null), data, null, Map.of(), spec.commandLine().getOut());
    }

    private List<Double> ladder() {
        if (forgetLadder.size() == 1 && forgetLadder.get(0).equals("none")) {
            return List.of();
        }
        try {
            return forgetLadder.stream().map(Double::valueOf).toList();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--forget-lr-ladder must be comma-separated rates or 'none', got "
                    + String.join(",", forgetLadder));
        }
    }
}
