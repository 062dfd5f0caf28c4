package dev.backdoorguard.offline.purify.dhbe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.PurificationReport;
import dev.backdoorguard.offline.purify.Purifier;
import dev.backdoorguard.offline.report.LineChart;
import dev.backdoorguard.offline.train.TorchAdam;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * DHBE (AsiaCCS 2023): data-free. The model (the student, initialised as itself, i.e. from the
 * teacher) is distilled from a frozen copy on synthetic images from an adversarial generator, while
 * an adversarial patch generator makes it insensitive to any small additive patch anywhere. The last
 * student is kept (specs/dhbe-seam.md §A.6: no model selection).
 */
public final class DhbePurifier implements Purifier {
    public static final String CURVE_PNG = "dhbe-curve.png";
    public static final String LOSSES_PNG = "dhbe-losses.png";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DhbeConfig config;
    private final DhbeCheckpoints checkpoints;
    private final Function<Classifier, AttackMetrics> evaluator;
    private final int evalEvery;
    private final DhbeListener listener;

    /**
     * @param evaluator measures the student every {@code evalEvery} iterations (and before the first
     *     and after the last), or null for none
     */
    public DhbePurifier(DhbeConfig config, DhbeCheckpoints checkpoints, Function<Classifier, AttackMetrics> evaluator,
            int evalEvery, DhbeListener listener) {
        if (evalEvery < 0) {
            throw new IllegalArgumentException("--eval-every must be >= 0 (0 = never), got " + evalEvery);
        }
        this.config = config;
        this.checkpoints = checkpoints;
        this.evaluator = evaluator;
        this.evalEvery = evaluator == null ? 0 : evalEvery;
        this.listener = listener;
    }

    @Override
    public String name() {
        return "dhbe";
    }

    @Override
    public PurificationReport purify(Classifier model, PurificationData data) {
        if (!data.isEmpty()) {
            throw new IllegalArgumentException("DHBE is data-free: it takes no clean data");
        }
        try {
            return run(model);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private PurificationReport run(Classifier model) throws IOException {
        String teacherHash = fingerprint(model.stateDict());
        int n = config.iterations();
        float[][] losses = new float[4][n];
        List<ObjectNode> evaluations = new ArrayList<>();
        List<Integer> written = new ArrayList<>();
        int start = 0;
        long began = System.nanoTime();
        double priorSeconds = 0;
        ObjectNode warmup = null;
        try (DhbeTrainer trainer = new DhbeTrainer(model, config)) {
            if (checkpoints.resume()) {
                DhbeCheckpoints.Saved saved = checkpoints.read();
                start = restore(trainer, saved, teacherHash, losses, evaluations);
                priorSeconds = saved.metadata().path("seconds").asDouble(0);
                JsonNode savedWarmup = saved.metadata().path("generator_warmup");
                warmup = savedWarmup.isObject() ? (ObjectNode) savedWarmup : null; // ran before the interruption
            } else {
                if (evaluator != null) {
                    evaluations.add(evaluate(trainer, 0));
                }
                warmup = warmUp(trainer);
            }
            double[] window = new double[n];
            long loopStart = System.nanoTime(); // after the warm-up: the progress's rate is iterations only
            for (int it = start; it < n; it++) {
                long t0 = System.nanoTime();
                DhbeLosses l = trainer.iteration(it);
                window[it] = (System.nanoTime() - t0) / 1e6;
                losses[0][it] = (float) l.distillation();
                losses[1][it] = (float) l.student();
                losses[2][it] = (float) l.generator();
                losses[3][it] = (float) l.patch();
                int done = it + 1;
                listener.onIteration(done, n, l, (System.nanoTime() - loopStart) / 1e9);
                if (evaluator != null && (done % evalEvery == 0 || done == n)) {
                    evaluations.add(evaluate(trainer, done));
                }
                if (checkpoints.every() > 0 && done % checkpoints.every() == 0 && done < n) {
                    checkpoints.write(trainer.tensors(), metadata(trainer, done, teacherHash, losses, evaluations,
                            warmup, priorSeconds + (System.nanoTime() - began) / 1e9));
                    written.add(done);
                    listener.onCheckpoint(done, checkpoints.dir());
                }
            }
            double seconds = (System.nanoTime() - began) / 1e9;
            double[] timed = Arrays.copyOfRange(window, Math.min(start + 2, n), n);
            Arrays.sort(timed);
            ObjectNode details = JSON.createObjectNode();
            details.put("iterations_run", n - start);
            details.put("resumed_from_iteration", start);
            details.put("seconds_this_process", seconds);
            details.put("seconds_including_interrupted_runs", priorSeconds + seconds);
            details.put("ms_per_iteration_median", timed.length == 0 ? Double.NaN : timed[timed.length / 2]);
            details.put("teacher_weights_fingerprint", teacherHash);
            details.put("final_distillation_loss", losses[0][n - 1]);
            if (warmup != null) {
                details.set("generator_warmup", warmup);
            }
            ArrayNode checkpointsWritten = details.putArray("checkpoints_written");
            written.forEach(checkpointsWritten::add);
            if (checkpoints.dir() != null) {
                details.put("checkpoint_dir", checkpoints.dir().toString());
            }
            details.set("losses", lossCurve(losses));
            ArrayNode evals = details.putArray("evaluations");
            evaluations.forEach(evals::add);
            Map<String, byte[]> charts = new LinkedHashMap<>();
            charts.put(LOSSES_PNG, lossChart(losses));
            if (!evaluations.isEmpty()) {
                charts.put(CURVE_PNG, evaluationChart(evaluations));
            }
            ObjectNode cfg = config.toJson();
            return new PurificationReport(name(), cfg, details, String.format("DHBE, %d iterations (batch %d, ngf %d,"
                    + " nz %d, student lr %s%s), data-free; final distillation L1 %.4f", n, config.batchSize(),
                    config.ngf(), config.nz(), config.lrStudent(),
                    deviations(), losses[0][n - 1]),
                    charts);
        }
    }

    /** The named deviations in use, for the summary line ("" for the reference). */
    private String deviations() {
        StringBuilder out = new StringBuilder();
        if (!config.studentBnTraining()) {
            out.append(", student BN in eval mode");
        }
        if (config.prior().warmupSteps() > 0) {
            out.append(", generator warm-up ").append(config.prior().warmupSteps()).append(" steps");
        }
        if (config.prior().bnWeight() > 0) {
            out.append(", BN prior ").append(config.prior().bnWeight());
        }
        return out.length() == 0 ? "" : out.append(": deviations").toString();
    }

    /**
     * The {@code --generator-warmup} deviation, before the first iteration (a resumed run's generator
     * comes from its checkpoint instead); null when it is off. Returns what the report records.
     */
    private ObjectNode warmUp(DhbeTrainer trainer) {
        int steps = config.prior().warmupSteps();
        if (steps == 0) {
            return null;
        }
        long t0 = System.nanoTime();
        double[] first = null;
        double[] last = null;
        try (TorchAdam optimizer = trainer.warmupOptimizer()) {
            for (int step = 0; step < steps; step++) {
                last = trainer.warmupStep(optimizer, step);
                first = first == null ? last : first;
                listener.onWarmup(step + 1, steps, last[0], last[1], (System.nanoTime() - t0) / 1e9);
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("steps", steps).put("seconds", (System.nanoTime() - t0) / 1e9)
                .put("first_bn_prior", first[0]).put("final_bn_prior", last[0])
                .put("first_teacher_entropy", first[1]).put("final_teacher_entropy", last[1]);
        return out;
    }

    private ObjectNode evaluate(DhbeTrainer trainer, int done) {
        AttackMetrics m = evaluator.apply(trainer.student());
        listener.onEvaluation(done, m);
        ObjectNode e = JSON.createObjectNode();
        e.put("iteration", done).put("acc", m.acc()).put("asr", m.asr()).put("ra", m.ra())
                .put("asr_conditional", m.asrConditional());
        return e;
    }

    private ObjectNode metadata(DhbeTrainer trainer, int done, String teacherHash, float[][] losses,
            List<ObjectNode> evaluations, ObjectNode warmup, double seconds) {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("iteration", done);
        if (warmup != null) {
            meta.set("generator_warmup", warmup); // so a resumed run's report still has it
        }
        meta.put("teacher_weights_fingerprint", teacherHash);
        meta.put("seconds", seconds);
        meta.set("config", config.toJson());
        ObjectNode optimizers = meta.putObject("optimizers");
        trainer.scalars().forEach(optimizers::put);
        ArrayNode history = meta.putArray("losses");
        for (int i = 0; i < done; i++) {
            history.addArray().add(losses[0][i]).add(losses[1][i]).add(losses[2][i]).add(losses[3][i]);
        }
        ArrayNode evals = meta.putArray("evaluations");
        evaluations.forEach(evals::add);
        return meta;
    }

    /** Loads a checkpoint into the trainer after checking that it belongs to this model and these settings. */
    private int restore(DhbeTrainer trainer, DhbeCheckpoints.Saved saved, String teacherHash, float[][] losses,
            List<ObjectNode> evaluations) throws BundleException {
        ObjectNode meta = saved.metadata();
        String where = "--resume: checkpoint " + checkpoints.dir();
        List<String> mismatches = DhbeCheckpoints.mismatches(config.toJson(), meta.path("config"));
        if (!mismatches.isEmpty()) {
            throw new IllegalArgumentException(where + " was written with other settings: "
                    + String.join(", ", mismatches));
        }
        if (!teacherHash.equals(meta.path("teacher_weights_fingerprint").asText())) {
            throw new IllegalArgumentException(where + " was written for another model (teacher weights differ)");
        }
        int done = meta.path("iteration").asInt(-1);
        JsonNode history = meta.path("losses");
        if (done < 1 || done >= config.iterations() || !history.isArray() || history.size() != done) {
            throw new BundleException(where + " is corrupt: iteration " + meta.path("iteration") + " of "
                    + config.iterations() + " with " + history.size() + " loss records");
        }
        Map<String, String> scalars = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = meta.path("optimizers").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            scalars.put(e.getKey(), e.getValue().asText());
        }
        try {
            trainer.restore(saved.tensors(), scalars);
        } catch (BundleException | IllegalArgumentException e) {
            throw new BundleException(where + " is corrupt: " + e.getMessage());
        }
        for (int i = 0; i < done; i++) {
            for (int k = 0; k < 4; k++) {
                losses[k][i] = (float) history.get(i).path(k).asDouble();
            }
        }
        // The checkpoint's plain mapper writes an undefined figure as the string "NaN"; back to a number, so that
        // the report writes it as null like any other.
        meta.path("evaluations").forEach(e -> {
            ObjectNode evaluation = (ObjectNode) e;
            evaluation.properties().stream().filter(field -> field.getValue().isTextual()).toList()
                    .forEach(field -> evaluation.put(field.getKey(), field.getValue().asDouble()));
            evaluations.add(evaluation);
        });
        return done;
    }

    /** A SHA-256 over every tensor of the state dict, by key order: identifies the teacher of a checkpoint. */
    static String fingerprint(Map<String, HostTensor> state) {
        int bytes = 0;
        for (HostTensor t : state.values()) {
            bytes += t.floats().length * 4 + t.name().length() * 2;
        }
        ByteBuffer buffer = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, HostTensor> e : state.entrySet()) {
            for (char c : e.getValue().name().toCharArray()) {
                buffer.putChar(c);
            }
            for (float f : e.getValue().floats()) {
                buffer.putFloat(f);
            }
        }
        return Bundles.sha256(buffer.array());
    }

    /** At most ~500 points: every k-th iteration's losses. */
    private static ArrayNode lossCurve(float[][] losses) {
        int n = losses[0].length;
        int step = Math.max(1, n / 500);
        ArrayNode out = JSON.createArrayNode();
        for (int i = step - 1; i < n; i += step) {
            out.addObject().put("iteration", i + 1).put("distillation", losses[0][i]).put("student", losses[1][i])
                    .put("generator", losses[2][i]).put("patch", losses[3][i]);
        }
        return out;
    }

    private static byte[] lossChart(float[][] losses) throws IOException {
        int n = losses[0].length;
        double[] x = new double[n];
        double[][] y = new double[3][n];
        for (int i = 0; i < n; i++) {
            x[i] = i + 1;
            y[0][i] = losses[0][i];
            y[1][i] = -losses[2][i];
            y[2][i] = -losses[3][i];
        }
        return new LineChart("DHBE losses", "iteration", "L1")
                .add(new LineChart.Series("distillation L1(S, T)", x, y[0]))
                .add(new LineChart.Series("generator -loss", x, y[1]))
                .add(new LineChart.Series("patch generator -loss", x, y[2]))
                .png();
    }

    private static byte[] evaluationChart(List<ObjectNode> evaluations) throws IOException {
        int n = evaluations.size();
        double[] x = new double[n];
        double[][] y = new double[3][n];
        for (int i = 0; i < n; i++) {
            ObjectNode e = evaluations.get(i);
            x[i] = e.get("iteration").asDouble();
            y[0][i] = 100 * e.get("acc").asDouble();
            y[1][i] = 100 * e.get("asr").asDouble();
            JsonNode conditional = e.get("asr_conditional"); // null when undefined: a gap in the curve
            y[2][i] = conditional != null && conditional.isNumber() ? 100 * conditional.asDouble() : Double.NaN;
        }
        return new LineChart("DHBE: student during the run", "iteration", "%")
                .add(new LineChart.Series("ACC", x, y[0]))
                .add(new LineChart.Series("ASR", x, y[1]))
                .add(new LineChart.Series("ASR (DHBE conditional)", x, y[2]))
                .png();
    }
}
