package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.offline.attack.AttackSimulation;
import dev.backdoorguard.offline.report.LineChart;
import dev.backdoorguard.offline.train.TrainingConfig;
import dev.backdoorguard.offline.train.TrainingLoop;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard attack}: trains a backdoored model and writes it as a bundle with report.json. */
@Command(
        name = "attack",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Train a backdoored model (attack simulation) and write it as a model bundle.",
            "",
            "The defender's class-balanced clean set (--clean-fraction of the training set) is held out first;"
                    + " round(rate x N) of the remaining images get the trigger and the target label (SIG: only"
                    + " target-class images, labels kept). Trains with SGD (PyTorch's momentum rule), cosine"
                    + " learning rate per epoch, random crop + flip, then reports ACC/ASR/RA on the test set.",
            ""
        })
public final class AttackCommand implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--arch", defaultValue = "cnn-small", paramLabel = "NAME",
            description = "Architecture: cnn-small, preact-resnet18, resnet18 (default: ${DEFAULT-VALUE}).")
    String architecture;

    @Option(names = "--width", paramLabel = "W", description = "ResNet width (default 64; ignored by cnn-small).")
    Integer width;

    @Option(names = "--trigger", defaultValue = "badnets", paramLabel = "NAME",
            description = "Trigger: badnets, blended, wanet, sig (default: ${DEFAULT-VALUE}).")
    String trigger;

    @Mixin TriggerOptions triggerOptions;

    @Option(names = "--poison-rate", defaultValue = "0.1", paramLabel = "R",
            description = "Share of the attacker's training images poisoned, in (0, 1] (default: ${DEFAULT-VALUE}).")
    double poisonRate;

    @Option(names = "--target", defaultValue = "0", paramLabel = "K",
            description = "Target class of the all-to-one backdoor (default: ${DEFAULT-VALUE}).")
    int target;

    @Option(names = "--epochs", defaultValue = "10", paramLabel = "N", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "128", paramLabel = "B",
            description = "Mini-batch size; the last partial batch is dropped (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--lr", defaultValue = "0.1", paramLabel = "LR",
            description = "Initial learning rate, cosine-annealed per epoch (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default: ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--weight-decay", defaultValue = "5e-4", description = "Weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--padding", defaultValue = "4", paramLabel = "P",
            description = "Random-crop padding in pixels (default: ${DEFAULT-VALUE}).")
    int padding;

    @Option(names = "--no-flip", description = "Disable the random horizontal flip.")
    boolean noFlip;

    @Option(names = "--clean-fraction", defaultValue = "0.02", paramLabel = "F",
            description = "Defender's class-balanced clean share held out of training (default: ${DEFAULT-VALUE}).")
    double cleanFraction;

    @Option(names = "--max-train", defaultValue = "0", paramLabel = "N",
            description = "Use at most N attacker images (0 = all; for quick runs).")
    int maxTrain;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of every random choice (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin DataOptions data;

    @Mixin OutputOptions output;

    @Override
    public Integer call() throws Exception {
        Architectures registry = Architectures.standard();
        registry.get(architecture);
        if (width != null && width < 1) {
            // Checked here too: ModelSpec's own check would blame model.json, a file the user never wrote.
            throw new IllegalArgumentException("--width must be >= 1, got " + width);
        }
        if (!(poisonRate > 0 && poisonRate <= 1)) {
            throw new IllegalArgumentException("--poison-rate must be in (0, 1], got " + poisonRate);
        }
        if (maxTrain < 0) {
            throw new IllegalArgumentException("--max-train must be >= 0 (0 = all images), got " + maxTrain);
        }
        // Built before the data loads, so that a bad --epochs, --batch-size or --lr fails at once.
        TrainingConfig training = new TrainingConfig(epochs, batchSize, learningRate, momentum, weightDecay, true,
                new Augmentation(padding, !noFlip), seed);
        output.checkFree();
        ImageDataset train = data.load(Datasets.Split.TRAIN, 10);
        ImageDataset test = data.load(Datasets.Split.TEST, 10);
        if (target < 0 || target >= train.numClasses()) {
            throw new IllegalArgumentException("--target " + target + " is outside [0, " + train.numClasses() + ")");
        }
        Trigger t = triggerOptions.create(trigger, train.shape());
        AttackSimulation.Settings settings = new AttackSimulation.Settings(architecture, width, poisonRate, target,
                cleanFraction, maxTrain, training);
        AttackSimulation.Outcome outcome = new AttackSimulation(registry)
                .run(settings, train, test, t, ConsoleProgress.stderr("attack"));
        try (var model = outcome.model()) {
            ObjectNode report = report(outcome, train, test);
            ObjectNode provenance = model.spec().provenance().deepCopy();
            provenance.put("tool", "backdoor-guard " + VersionProvider.version());
            provenance.put("command", "attack");
            provenance.put("trigger", trigger);
            provenance.put("target", target);
            provenance.put("poison_rate", poisonRate);
            provenance.put("seed", seed);
            Bundles.write(output.out, output.force, model.spec().withProvenance(provenance), model.stateDict(), report,
                    java.util.Map.of("training-curve.png", trainingCurve(outcome)));
            if (output.json) {
                spec.commandLine().getOut().println(Reports.JSON.writeValueAsString(report));
            } else {
                Reports.printMetrics(spec.commandLine().getOut(), String.format("attack %s %s rate %.3f target %d: %.1f s",
                        architecture, trigger, poisonRate, target, outcome.wallSeconds()), outcome.metrics());
                spec.commandLine().getOut().println("  wrote " + output.out + " (model.json, weights.safetensors, report.json, training-curve.png)");
            }
        }
        return 0;
    }

    private ObjectNode report(AttackSimulation.Outcome o, ImageDataset train, ImageDataset test) {
        ObjectNode r = Reports.header("attack", seed);
        ObjectNode config = r.putObject("config");
        config.put("architecture", architecture);
        if (width != null) {
            config.put("width", width);
        }
        config.put("trigger", trigger);
        config.put("trigger_seed", triggerOptions.seed());
        if (triggerOptions.image != null) {
            config.put("trigger_image", triggerOptions.image.toString());
        }
        config.put("poison_rate", poisonRate);
        config.put("target", target);
        config.put("epochs", epochs);
        config.put("batch_size", batchSize);
        config.put("lr", learningRate);
        config.put("momentum", momentum);
        config.put("weight_decay", weightDecay);
        config.put("augmentation", "pad " + padding + " random crop" + (noFlip ? "" : " + horizontal flip"));
        config.put("lr_schedule", "cosine, T_max = epochs, stepped per epoch");
        config.put("clean_fraction", cleanFraction);
        config.put("max_train", maxTrain);
        ObjectNode inputs = r.putObject("data");
        inputs.put("directory", data.directory().toString());
        inputs.put("train_sha256", train.fingerprint());
        inputs.put("test_sha256", test.fingerprint());
        inputs.put("attacker_images", o.attackerImages());
        inputs.put("poisoned_images", o.poisoned().length);
        inputs.put("poisoned_indices_sha256", Subsets.indicesHash(o.poisoned()));
        inputs.put("defender_clean_images", o.defenderIndices().length);
        inputs.put("defender_clean_indices_sha256", Subsets.indicesHash(o.defenderIndices()));
        r.set("metrics", Reports.metrics(o.metrics()));
        ArrayNode curve = r.putArray("epochs");
        for (TrainingLoop.Epoch e : o.epochs()) {
            curve.addObject().put("epoch", e.epoch()).put("lr", e.learningRate()).put("loss", e.meanLoss())
                    .put("seconds", e.seconds());
        }
        r.put("seconds_per_epoch_median", median(o.epochs().stream().mapToDouble(TrainingLoop.Epoch::seconds).toArray()));
        r.put("wall_seconds", o.wallSeconds());
        return r;
    }

    private byte[] trainingCurve(AttackSimulation.Outcome o) throws java.io.IOException {
        double[] epochs = o.epochs().stream().mapToDouble(TrainingLoop.Epoch::epoch).toArray();
        double[] loss = o.epochs().stream().mapToDouble(TrainingLoop.Epoch::meanLoss).toArray();
        return new LineChart(String.format("guard attack: %s, %s, rate %.3f", architecture, trigger, poisonRate),
                "epoch", "mean training loss")
                .add(new LineChart.Series("loss (ACC " + String.format("%.1f%%", 100 * o.metrics().acc()) + ", ASR "
                        + String.format("%.1f%%", 100 * o.metrics().asr()) + ")", epochs, loss))
                .png();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
