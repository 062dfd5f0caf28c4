package dev.backdoorguard.offline.purify.fst;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.PurificationReport;
import dev.backdoorguard.offline.purify.Purifier;
import dev.backdoorguard.offline.train.TrainingLoop;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Feature Shift Tuning (NeurIPS 2023) and its baselines: tune on the defender's clean data with the
 * head pushed away from the compromised head W0 (penalty α·⟨W, W0⟩) and projected back to ‖W0‖_F after
 * every step, so the backbone's features must shift.
 */
public final class FstPurifier implements Purifier {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FstConfig config;
    private final TrainingLoop.Listener listener;
    /** ‖W‖_F after every step, for the report and the projection test. */
    private final List<Double> headNorms = new ArrayList<>();

    public FstPurifier(FstConfig config, TrainingLoop.Listener listener) {
        this.config = config;
        this.listener = listener;
    }

    @Override
    public String name() {
        return "fst";
    }

    List<Double> headNorms() {
        return headNorms;
    }

    @Override
    public PurificationReport purify(Classifier model, PurificationData data) {
        if (data.isEmpty()) {
            throw new IllegalArgumentException("FST needs the defender's clean data (--clean-fraction)");
        }
        String head = model.architecture().head();
        Map<String, Parameter> params = model.parameters();
        Parameter headWeight = params.get(head + ".weight");
        Parameter headBias = params.get(head + ".bias");
        int d = model.architecture().headInputs().apply(model.spec());
        float[] w0Values = headWeight.getArray().toFloatArray();
        double c = norm(w0Values);
        if (config.mode().reinitHead) {
            reinitialise(model, headWeight, headBias, d);
        }
        List<Parameter> trainable = new ArrayList<>();
        List<Parameter> frozen = new ArrayList<>();
        for (Parameter p : params.values()) {
            if (!p.requiresGradient()) {
                continue; // BN running statistics: buffers, updated by train-mode forward passes
            }
            boolean isHead = p == headWeight || p == headBias;
            boolean train = isHead ? config.mode().trainHead : config.mode().trainBackbone;
            (train ? trainable : frozen).add(p);
        }
        frozen.forEach(p -> p.getArray().setRequiresGradient(false));
        List<TrainingLoop.Epoch> epochs;
        try (NDManager state = model.manager().newSubManager()) {
            NDArray w0 = state.create(w0Values, headWeight.getArray().getShape());
            NDArray w = headWeight.getArray();
            TrainingLoop.Hooks hooks = new TrainingLoop.Hooks() {
                @Override
                public NDArray extraLoss(NDManager scope) {
                    if (!config.mode().penalty || config.alpha() == 0) {
                        return null;
                    }
                    NDArray product = w.mul(w0); // attaches to the model's manager: move it to the step scope
                    product.attach(scope);
                    NDArray penalty = product.sum().mul((float) config.alpha()); // a float64 scalar would promote the loss
                    penalty.attach(scope);
                    return penalty;
                }

                @Override
                public void afterStep() {
                    double n = norm(w.toFloatArray());
                    w.muli(c / n); // in place, outside autograd: the momentum buffer is left alone
                    headNorms.add(norm(w.toFloatArray()));
                }
            };
            epochs = new TrainingLoop(config.training()).train(model, data.clean(), trainable, hooks, listener);
        } finally {
            frozen.forEach(p -> p.getArray().setRequiresGradient(true));
        }
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("mode", config.mode().cliName()).put("alpha", config.alpha()).put("epochs", config.epochs())
                .put("batch_size", config.batchSize()).put("lr", config.learningRate()).put("momentum", 0.9)
                .put("weight_decay", 0.0).put("lr_schedule", "cosine, T_max = epochs, stepped per epoch")
                .put("augmentation", "pad " + config.augmentation().padding() + " random crop"
                        + (config.augmentation().flip() ? " + horizontal flip" : ""))
                .put("head", head).put("head_inputs", d);
        ObjectNode details = JSON.createObjectNode();
        details.put("head_norm_c", c);
        details.put("head_norm_final", headNorms.isEmpty() ? c : headNorms.get(headNorms.size() - 1));
        details.put("steps", headNorms.size());
        details.put("trainable_tensors", trainable.size());
        details.put("frozen_tensors", frozen.size());
        ArrayNode curve = details.putArray("epochs");
        for (TrainingLoop.Epoch e : epochs) {
            curve.addObject().put("epoch", e.epoch()).put("lr", e.learningRate()).put("loss", e.meanLoss())
                    .put("seconds", e.seconds());
        }
        return new PurificationReport(name(), cfg, details, String.format("FST mode %s, alpha %.2f, %d epochs on %d clean"
                + " images", config.mode().cliName(), config.alpha(), config.epochs(), data.clean().size()));
    }

    /** The reference re-initialisation: weight and bias from U(-1/√d, 1/√d), seeded. */
    private void reinitialise(Classifier model, Parameter weight, Parameter bias, int d) {
        HeadInit init = initialHead(config.seed(), (int) bias.getArray().size(), d);
        weight.getArray().set(init.weight());
        bias.getArray().set(init.bias());
    }

    /** A re-initialised head: weight [classes, d] row-major, bias [classes]. */
    public record HeadInit(float[] weight, float[] bias) {}

    /**
     * The head FST re-draws for {@code seed}: weight then bias from U(-1/√d, 1/√d), by libtorch's
     * default generator seeded with a value derived from {@code seed} (so PyTorch's
     * {@code torch.manual_seed} + {@code uniform_} reproduces it; bench/FstDraw.java writes it out for
     * the reference).
     */
    public static HeadInit initialHead(long seed, int classes, int d) {
        float bound = (float) (1 / Math.sqrt(d));
        Engine.getInstance().setRandomSeed((int) Seeds.derive(seed, "fst-head"));
        try (NDManager scope = NDManager.newBaseManager()) {
            float[] weight = scope.randomUniform(-bound, bound, new Shape(classes, d)).toFloatArray();
            float[] bias = scope.randomUniform(-bound, bound, new Shape(classes)).toFloatArray();
            return new HeadInit(weight, bias);
        }
    }

    static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }
}
