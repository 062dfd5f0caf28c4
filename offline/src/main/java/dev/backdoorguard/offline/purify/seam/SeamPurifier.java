package dev.backdoorguard.offline.purify.seam;

import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.eval.Evaluator;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.PurificationFailedException;
import dev.backdoorguard.offline.purify.PurificationReport;
import dev.backdoorguard.offline.purify.Purifier;
import dev.backdoorguard.offline.report.LineChart;
import dev.backdoorguard.offline.train.TorchAdam;
import dev.backdoorguard.offline.train.TrainingLoop;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * SEAM, "selective amnesia" (IEEE S&P 2023): fine-tune the suspect model on randomly relabelled clean
 * images until held-out accuracy falls below 2/K (forget, catastrophically, the backdoor with the
 * task), then on correctly labelled clean images with a fresh optimiser until a patience rule fires
 * (recover the task only). Both phases train in train mode (BN statistics adapt) with Adam, PyTorch
 * semantics; the stop rules read a held-out share of the defender's data, never the test set.
 */
public final class SeamPurifier implements Purifier {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String CURVE_PNG = "seam-curve.png";

    /**
     * One epoch of either phase: its mean loss, the held-out accuracy after it, and the test-set
     * metrics when a trigger oracle tracks them (null otherwise; reporting only, never a stop rule).
     */
    public record EpochRecord(String phase, int epoch, double lr, double loss, double holdoutAccuracy,
            AttackMetrics test) {}

    private final SeamConfig config;
    private final Consumer<String> progress;
    private final Function<Classifier, AttackMetrics> oracle;

    /**
     * @param oracle measures test ACC/ASR after every epoch for the report and the chart, or null;
     *     it never influences the run (the stop rules read the held-out set only)
     */
    public SeamPurifier(SeamConfig config, Consumer<String> progress, Function<Classifier, AttackMetrics> oracle) {
        this.config = config;
        this.progress = progress;
        this.oracle = oracle;
    }

    @Override
    public String name() {
        return "seam";
    }

    @Override
    public PurificationReport purify(Classifier model, PurificationData data) {
        if (data.isEmpty()) {
            throw new IllegalArgumentException("SEAM needs the defender's clean data (--clean-fraction)");
        }
        int k = model.spec().numClasses();
        SeamSets sets = SeamSets.split(data, config.holdoutFraction(), config.forgetFraction(),
                config.withReplacement(), config.seed());
        List<Parameter> trainable = model.parameters().values().stream().filter(Parameter::requiresGradient).toList();
        Engine.getInstance().setRandomSeed((int) Seeds.derive(config.seed(), "seam-engine"));
        double before = accuracy(model, sets.holdout());
        double forgetBelow = config.forgetThreshold(k);
        progress.accept(String.format("seam: held-out %d, recovery %d, forget %d images; pre-SEAM held-out accuracy"
                + " %.2f%%", sets.holdout().size(), sets.recovery().size(), sets.forget().size(), 100 * before));

        // Forget: each rung of the ladder restarts from the suspect weights, so its result equals a run started at that rate.
        Map<String, HostTensor> suspect = model.stateDict();
        List<Double> rates = new ArrayList<>();
        rates.add(config.forgetLr());
        rates.addAll(config.forgetLadder());
        ObjectNode forget = JSON.createObjectNode();
        ArrayNode attempts = forget.putArray("attempts");
        List<EpochRecord> forgetCurve = List.of();
        boolean forgotten = false;
        long forgetStart = System.nanoTime();
        int forgetEpochsTotal = 0;
        for (int rung = 0; rung < rates.size() && !forgotten; rung++) {
            double lr = rates.get(rung);
            if (rung > 0) {
                restore(model, suspect);
                progress.accept(String.format("seam forget: held-out accuracy still >= %.2f%% after %d epochs at lr %.1e;"
                        + " escalating to lr %.1e (restarting from the suspect weights)", 100 * forgetBelow,
                        config.maxEpochs(), rates.get(rung - 1), lr));
            }
            List<EpochRecord> curve = new ArrayList<>();
            Random random = new Random(Seeds.derive(config.seed(), "seam-forget-" + rung));
            TrainingLoop.Batches batches = new TrainingLoop.Batches(config.batchSize(), false, config.augmentation(),
                    config.labels().relabel(k));
            try (TorchAdam adam = new TorchAdam(trainable, SeamConfig.FORGET_BETA1, SeamConfig.FORGET_BETA2,
                    config.forgetWeightDecay(), model.manager())) {
                for (int epoch = 1; epoch <= config.maxEpochs(); epoch++) {
                    double loss = batches.epoch(model, sets.forget(), random, TrainingLoop.Hooks.NONE,
                            () -> adam.step(lr), TrainingLoop.BatchListener.NONE);
                    double acc = accuracy(model, sets.holdout());
                    curve.add(new EpochRecord("forget", epoch, lr, loss, acc, track(model)));
                    if (acc < forgetBelow) {
                        forgotten = true;
                    }
                    if (forgotten || epoch % 10 == 0) {
                        progress.accept(String.format("seam forget (lr %.1e) epoch %d/%d: loss %.4f, held-out accuracy"
                                + " %.2f%% (stop below %.2f%%)%s", lr, epoch, config.maxEpochs(), loss, 100 * acc,
                                100 * forgetBelow, tracked(curve.get(curve.size() - 1))));
                    }
                    if (forgotten) {
                        break;
                    }
                }
            }
            forgetEpochsTotal += curve.size();
            attempts.addObject().put("lr", lr).put("epochs", curve.size()).put("reached", forgotten)
                    .put("final_holdout_accuracy", curve.get(curve.size() - 1).holdoutAccuracy());
            forgetCurve = curve;
        }
        double forgetSeconds = (System.nanoTime() - forgetStart) / 1e9;
        forget.put("converged", forgotten).put("threshold", forgetBelow).put("epochs", forgetCurve.size())
                .put("epochs_all_attempts", forgetEpochsTotal).put("lr", forgetCurve.get(0).lr())
                .put("escalations", attempts.size() - 1).put("seconds", forgetSeconds);
        curve(forget.putArray("curve"), forgetCurve);
        if (!forgotten) {
            String message = String.format("the forget phase did not bring held-out accuracy below %.2f%% at any rate of"
                    + " %s within %d epochs each (last: %.2f%%)", 100 * forgetBelow, rates, config.maxEpochs(),
                    100 * forgetCurve.get(forgetCurve.size() - 1).holdoutAccuracy());
            if (!config.allowUnconverged()) {
                throw new PurificationFailedException(message + "; no bundle written (try a higher --forget-lr or"
                        + " --forget-lr-ladder, or pass --allow-unconverged to recover and write anyway)");
            }
            progress.accept("seam: warning: " + message + "; recovering anyway (--allow-unconverged)");
        }

        // Recover: a fresh optimiser on the correctly labelled recovery set.
        double target = config.recoverThreshold(before);
        RecoveryStop stop = new RecoveryStop(target, config.patience(), config.plateauAfter());
        List<EpochRecord> recoverCurve = new ArrayList<>();
        long recoverStart = System.nanoTime();
        boolean stopped = false;
        Random random = new Random(Seeds.derive(config.seed(), "seam-recover"));
        TrainingLoop.Batches batches = new TrainingLoop.Batches(config.batchSize(), false, config.augmentation(),
                TrainingLoop.Relabel.TRUE);
        try (TorchAdam adam = new TorchAdam(trainable, config.recoverBeta1(), config.recoverBeta2(),
                config.recoverWeightDecay(), model.manager())) {
            for (int epoch = 1; epoch <= config.maxEpochs() && !stopped; epoch++) {
                double loss = batches.epoch(model, sets.recovery(), random, TrainingLoop.Hooks.NONE,
                        () -> adam.step(config.recoverLr()), TrainingLoop.BatchListener.NONE);
                double acc = accuracy(model, sets.holdout());
                EpochRecord record = new EpochRecord("recover", epoch, config.recoverLr(), loss, acc, track(model));
                recoverCurve.add(record);
                stopped = stop.update(epoch - 1, acc);
                progress.accept(String.format("seam recover epoch %d/%d: loss %.4f, held-out accuracy %.2f%% (target"
                        + " %.2f%%, patience left %d)%s", epoch, config.maxEpochs(), loss, 100 * acc, 100 * target,
                        Math.max(stop.patience(), 0), tracked(record)));
            }
        }
        double recoverSeconds = (System.nanoTime() - recoverStart) / 1e9;
        ObjectNode recover = JSON.createObjectNode();
        recover.put("epochs", recoverCurve.size()).put("target", target).put("stopped_by_patience", stopped)
                .put("stop_reason", stopped ? stop.reason() : "epoch cap " + config.maxEpochs())
                .put("final_holdout_accuracy", recoverCurve.get(recoverCurve.size() - 1).holdoutAccuracy())
                .put("seconds", recoverSeconds);
        curve(recover.putArray("curve"), recoverCurve);
        oracleBest(recoverCurve).ifPresent(best -> recover.putObject("oracle_upper_bound")
                .put("epoch", best.epoch()).put("test_acc", best.test().acc()).put("test_asr", best.test().asr())
                .put("note", "the reference's report: the recovery epoch with the best test ACC - ASR, chosen with"
                        + " the test set and the trigger. An upper bound for comparison, not the kept model"));

        ObjectNode details = JSON.createObjectNode();
        ObjectNode setsNode = details.putObject("sets");
        setsNode.put("holdout_images", sets.holdout().size())
                .put("holdout_indices_sha256", Subsets.indicesHash(sets.holdoutIndices()))
                .put("recovery_images", sets.recovery().size())
                .put("recovery_indices_sha256", Subsets.indicesHash(sets.recoveryIndices()))
                .put("recovery_distinct_images", Arrays.stream(sets.recoveryIndices()).distinct().count())
                .put("forget_images", sets.forget().size())
                .put("forget_distinct_images", Arrays.stream(sets.forgetIndices()).distinct().count())
                .put("forget_indices_sha256", Subsets.indicesHash(sets.forgetIndices()));
        details.put("pre_seam_holdout_accuracy", before);
        details.set("forget", forget);
        details.set("recover", recover);
        details.put("kept", "last recover epoch");
        return new PurificationReport(name(), configNode(k), details, String.format("SEAM: forgot in %d epochs (lr"
                + " %.1e%s), recovered in %d epochs (%s), held-out accuracy %.2f%% -> %.2f%%", forgetCurve.size(),
                forgetCurve.get(0).lr(), forgotten ? "" : ", NOT below the threshold", recoverCurve.size(),
                stopped ? "patience" : "epoch cap", 100 * before,
                100 * recoverCurve.get(recoverCurve.size() - 1).holdoutAccuracy()),
                Map.of(CURVE_PNG, chart(forgetCurve, recoverCurve, forgetBelow, target)));
    }

    private ObjectNode configNode(int k) {
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("forget_fraction", config.forgetFraction()).put("holdout_fraction", config.holdoutFraction())
                .put("batch_size", config.batchSize()).put("random_labels", config.labels().cliName())
                .put("forget_optimizer", String.format("Adam(lr %s, betas (%s, %s), weight_decay %s)",
                        config.forgetLr(), SeamConfig.FORGET_BETA1, SeamConfig.FORGET_BETA2, config.forgetWeightDecay()))
                .put("forget_below", config.forgetThreshold(k))
                .put("recover_optimizer", String.format("Adam(lr %s, betas (%s, %s), weight_decay %s), fresh",
                        config.recoverLr(), config.recoverBeta1(), config.recoverBeta2(), config.recoverWeightDecay()))
                .put("recover_target", Double.isNaN(config.recoverTarget())
                        ? config.recoverTargetRatio() + " x pre-SEAM held-out accuracy" : "" + config.recoverTarget())
                .put("patience", config.patience()).put("plateau_after", config.plateauAfter())
                .put("max_epochs", config.maxEpochs())
                .put("augmentation", "pad " + config.augmentation().padding() + " random crop"
                        + (config.augmentation().flip() ? " + horizontal flip" : ""))
                .put("allow_unconverged", config.allowUnconverged())
                .put("set_sampling", config.withReplacement() ? "with replacement (reference)" : "without replacement");
        ArrayNode ladder = cfg.putArray("forget_lr_ladder");
        config.forgetLadder().forEach(ladder::add);
        return cfg;
    }

    /**
     * The tracked recovery epoch with the largest test ACC − ASR (the earliest on ties): what the
     * reference reports (spec B.9 item 1). Empty when nothing was tracked.
     */
    static Optional<EpochRecord> oracleBest(List<EpochRecord> recover) {
        EpochRecord best = null;
        for (EpochRecord r : recover) {
            if (r.test() != null && (best == null
                    || r.test().acc() - r.test().asr() > best.test().acc() - best.test().asr())) {
                best = r;
            }
        }
        return Optional.ofNullable(best);
    }

    private AttackMetrics track(Classifier model) {
        return oracle == null ? null : oracle.apply(model);
    }

    private static String tracked(EpochRecord r) {
        return r.test() == null ? "" : String.format("; test ACC %.2f%%, ASR %.2f%%", 100 * r.test().acc(),
                100 * r.test().asr());
    }

    private static void curve(ArrayNode out, List<EpochRecord> records) {
        for (EpochRecord r : records) {
            ObjectNode row = out.addObject().put("epoch", r.epoch()).put("lr", r.lr()).put("loss", r.loss())
                    .put("holdout_accuracy", r.holdoutAccuracy());
            if (r.test() != null) {
                row.put("test_acc", r.test().acc()).put("test_asr", r.test().asr());
            }
        }
    }

    /** Held-out accuracy per epoch, the forget attempt that counted then recovery, with both thresholds. */
    private static byte[] chart(List<EpochRecord> forget, List<EpochRecord> recover, double forgetBelow, double target) {
        int f = forget.size();
        int total = f + recover.size();
        double[] fx = new double[f];
        double[] fy = new double[f];
        for (int i = 0; i < f; i++) {
            fx[i] = i + 1;
            fy[i] = forget.get(i).holdoutAccuracy();
        }
        double[] rx = new double[recover.size()];
        double[] ry = new double[recover.size()];
        for (int i = 0; i < rx.length; i++) {
            rx[i] = f + i + 1;
            ry[i] = recover.get(i).holdoutAccuracy();
        }
        LineChart chart = new LineChart("SEAM: held-out accuracy per epoch", "epoch (forget, then recover)", "accuracy")
                .add(new LineChart.Series("forget", fx, fy))
                .add(new LineChart.Series("recover", rx, ry))
                .add(new LineChart.Series("forget stop", new double[] {1, total}, new double[] {forgetBelow, forgetBelow}))
                .add(new LineChart.Series("recover target", new double[] {1, total}, new double[] {target, target}));
        if (forget.get(0).test() != null) {
            double[] x = new double[total];
            double[] asr = new double[total];
            for (int i = 0; i < total; i++) {
                x[i] = i + 1;
                asr[i] = (i < f ? forget.get(i) : recover.get(i - f)).test().asr();
            }
            chart.add(new LineChart.Series("test ASR (tracked)", x, asr));
        }
        try {
            return chart.png();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void restore(Classifier model, Map<String, HostTensor> weights) {
        try {
            model.loadStateDict(weights, "the suspect weights");
        } catch (BundleException e) {
            throw new IllegalStateException("restoring the model's own weights failed", e); // same keys and shapes: a bug
        }
    }

    private static double accuracy(Classifier model, ImageDataset holdout) {
        return new Evaluator(Evaluator.DEFAULT_BATCH).evaluate(model, holdout, null, 0).acc();
    }
}
