package dev.backdoorguard.offline.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.clp.ClpConfig;
import dev.backdoorguard.offline.purify.clp.ClpPurifier;
import dev.backdoorguard.offline.report.LineChart;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard purify clp}: data-free channel-Lipschitzness pruning. */
@Command(
        name = "clp",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Channel Lipschitzness-based Pruning (ECCV 2022): data-free. For every conv->BN pair the architecture"
                    + " declares, zero BN gamma and beta of the channels whose upper-bound channel Lipschitz constant"
                    + " exceeds mean + u * std (unbiased) of its layer. Layers with <= 10 channels are never pruned at"
                    + " u = 3 (Samuelson's bound).",
            ""
        })
public final class ClpCommand implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Mixin PurificationRun run;

    @Option(names = "--u", defaultValue = "3.0", paramLabel = "U",
            description = "Threshold in standard deviations, finite and >= 0 (default: ${DEFAULT-VALUE}).")
    double u;

    @Option(names = "--u-sweep", paramLabel = "FROM:TO:STEP",
            description = "Research aid (needs --eval-trigger): evaluate every u of the range on a fresh copy of the"
                    + " original weights, write the table to report.json and a chart to clp-u-sweep.png. The bundle is"
                    + " still pruned with --u.")
    String uSweep;

    @Override
    public Integer call() throws Exception {
        ClpConfig config = new ClpConfig(u);
        double[] sweep = uSweep == null ? new double[0] : parseSweep(uSweep);
        if (sweep.length > 0 && run.evalTrigger == null) {
            throw new IllegalArgumentException("--u-sweep needs --eval-trigger (it measures ACC and ASR for each u)");
        }
        ObjectNode extra = null;
        Map<String, byte[]> files = Map.of();
        if (sweep.length > 0) {
            run.checkBeforeWork();
            extra = Reports.JSON.createObjectNode();
            files = Map.of("clp-u-sweep.png", sweep(sweep, extra.putArray("u_sweep")));
        }
        return run.execute(new ClpPurifier(config), PurificationData.none(), extra, files, spec.commandLine().getOut());
    }

    private byte[] sweep(double[] values, ArrayNode table) throws Exception {
        try (Classifier model = Classifier.load(run.model, Architectures.standard())) {
            PurificationRun.Evaluation evaluation = run.new Evaluation(model);
            Map<String, HostTensor> original = model.stateDict();
            List<Double> acc = new ArrayList<>();
            List<Double> asr = new ArrayList<>();
            for (double value : values) {
                model.loadStateDict(original, "original weights");
                var report = new ClpPurifier(new ClpConfig(value)).purify(model, PurificationData.none());
                AttackMetrics m = evaluation.measure(model);
                table.addObject().put("u", value).put("pruned_channels", report.details().get("pruned_channels").asInt())
                        .put("acc", m.acc()).put("asr", m.asr()).put("ra", m.ra());
                acc.add(m.acc());
                asr.add(m.asr());
                System.err.printf("clp sweep u=%.2f: pruned %d, ACC %.2f%%, ASR %.2f%%%n", value,
                        report.details().get("pruned_channels").asInt(), 100 * m.acc(), 100 * m.asr());
            }
            return new LineChart("CLP: ACC and ASR against u", "u", "share of test images")
                    .add(new LineChart.Series("ACC", values, acc.stream().mapToDouble(Double::doubleValue).toArray()))
                    .add(new LineChart.Series("ASR", values, asr.stream().mapToDouble(Double::doubleValue).toArray()))
                    .png();
        }
    }

    static double[] parseSweep(String s) {
        String[] parts = s.split(":");
        try {
            if (parts.length != 3) {
                throw new NumberFormatException();
            }
            double from = Double.parseDouble(parts[0]);
            double to = Double.parseDouble(parts[1]);
            double step = Double.parseDouble(parts[2]);
            if (!(step > 0) || !(to >= from) || (to - from) / step > 1000) {
                throw new NumberFormatException();
            }
            int n = (int) Math.floor((to - from) / step + 1e-9) + 1;
            double[] values = new double[n];
            for (int i = 0; i < n; i++) {
                values[i] = new ClpConfig(from + i * step).u();
            }
            return values;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--u-sweep must be FROM:TO:STEP with 0 <= FROM <= TO and STEP > 0"
                    + " (at most 1000 values), got '" + s + "'");
        }
    }
}
