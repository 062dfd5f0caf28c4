package dev.backdoorguard.offline.purify.dhbe;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.train.TorchAdam;
import dev.backdoorguard.offline.train.TorchSgd;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DHBE loop's state and its three step types (specs/dhbe-seam.md §A.4, §A.6): the frozen
 * teacher (a second copy of the model, eval mode), the student (the model itself, edited in place,
 * train mode in every step; with {@code --student-bn eval}, a named deviation, its BatchNorm layers use
 * and keep their running statistics, while its weights still receive gradients), the image and patch generators (train mode) and their optimisers.
 *
 * <p>Every step draws its noise from (seed, iteration, step) and zeroes the gradients of the network
 * it updates first: DJL's collector does not zero, and in PyTorch's loop the generator steps leave
 * gradients in the student. Here the student's weights are also frozen during the generator steps
 * (their gradients would be discarded anyway), so none reach it at all. G's output is in normalised space; it is mapped to pixels ({@code x·std + mean}) so the
 * classifiers' own normalisation restores it, and the patch is added in pixel space, unclipped.
 */
final class DhbeTrainer implements AutoCloseable {
    private final DhbeConfig config;
    private final Classifier student;
    private final Classifier teacher;
    private final NDManager manager;
    private final Generators.Image generator;
    private final Generators.Patch patches;
    private final List<Parameter> studentParams;
    private final List<Parameter> generatorParams;
    private final List<Parameter> patchParams;
    private final TorchSgd studentOptimizer;
    private final TorchAdam generatorOptimizer;
    private final TorchAdam patchOptimizer;
    private final NDArray mean;
    private final NDArray std;
    private final int side;
    /** The training flag of every student forward: true (reference) or false (--student-bn eval, a deviation). */
    private final boolean studentTraining;

    DhbeTrainer(Classifier student, DhbeConfig config) throws BundleException {
        ModelSpec spec = student.spec();
        Generators.checkImageSize(spec.height(), spec.imageWidth());
        if (config.patchSize() > spec.height()) {
            throw new IllegalArgumentException("--patch-size " + config.patchSize() + " is larger than the "
                    + spec.height() + "x" + spec.imageWidth() + " image");
        }
        this.config = config;
        this.student = student;
        this.side = spec.height();
        this.studentTraining = config.studentBnTraining();
        this.teacher = student.copy();
        for (Parameter p : teacher.parameters().values()) {
            if (p.requiresGradient()) {
                p.getArray().setRequiresGradient(false); // frozen; gradients still flow to its input
            }
        }
        this.manager = student.manager().newSubManager();
        try {
            int c = spec.channels();
            this.generator = Generators.image(config.nz(), config.ngf(), c, side, manager,
                    Seeds.derive(config.seed(), "dhbe-generator"));
            this.patches = Generators.patch(config.nz2(), config.ngf(), c, config.patchSize(), manager,
                    Seeds.derive(config.seed(), "dhbe-patch-generator"));
            this.studentParams = student.parameters().values().stream().filter(Parameter::requiresGradient).toList();
            this.generatorParams = Generators.trainable(generator);
            this.patchParams = Generators.trainable(patches);
            this.studentOptimizer = new TorchSgd(studentParams, DhbeConfig.MOMENTUM, DhbeConfig.WEIGHT_DECAY, manager);
            this.generatorOptimizer = new TorchAdam(generatorParams, 0.9, 0.999, 0, manager);
            this.patchOptimizer = new TorchAdam(patchParams, 0.9, 0.999, 0, manager);
            this.mean = manager.create(spec.mean()).reshape(1, c, 1, 1);
            this.std = manager.create(spec.std()).reshape(1, c, 1, 1);
        } catch (RuntimeException e) {
            // The caller only owns a trainer it got back: free what was made so far.
            manager.close();
            teacher.close();
            throw e;
        }
    }

    /** One outer iteration (0-based): 5 student steps, one generator step, one patch-generator step. */
    DhbeLosses iteration(int it) {
        double[] student = null;
        for (int k = 0; k < DhbeConfig.STUDENT_STEPS; k++) {
            student = studentStep(it, k);
        }
        double g = generatorStep(it);
        double gp = patchStep(it);
        return new DhbeLosses(student[0], student[1], g, gp);
    }

    /**
     * ℓ1(S(x), sg(T(x))) + λ·ℓ1(S(x_p), sg(S(x))) with x = sg(G(z)), x_p = x + sg(pad(Gp(z2))); one
     * SGD step. Returns {distillation term, full loss}.
     */
    double[] studentStep(int it, int k) {
        zeroGradients(studentParams);
        StepNoise noise = new StepNoise(config.seed(), it, k);
        double[] out = new double[2];
        try (NDManager scope = manager.newSubManager()) {
            // no collector is open: the generators run without a graph (stop-gradient), in train mode
            NDArray xPix = pixels(generator.generate(noise.gaussian(scope, config.batchSize(), config.nz()), true));
            NDArray patch = patches.generate(noise.gaussian(scope, config.batchSize(), config.nz2()), true);
            int top = noise.offset(side - config.patchSize());
            int left = noise.offset(side - config.patchSize());
            NDArray xpPix = xPix.add(StepNoise.pad(patch, side, top, left));
            NDArray t = teacher.forward(xPix, false);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray s = student.forward(xPix, studentTraining);
                NDArray sp = student.forward(xpPix, studentTraining);
                NDArray distillation = l1(s, t);
                NDArray loss = distillation.add(l1(sp, s.stopGradient()).mul((float) config.lossWeightPatch()));
                collector.backward(loss);
                out[0] = finite(distillation.getFloat(), "student");
                out[1] = loss.getFloat();
            }
        }
        studentOptimizer.step(config.lrStudent() * config.lrFactor(it));
        return out;
    }

    /**
     * −ℓ1(S(G(z)), T(G(z))) + λ_tv2·TV2(G(z)), plus λ_bn·R_bn(G(z)) with the {@code --bn-prior}
     * deviation; one Adam step on G.
     */
    double generatorStep(int it) {
        zeroGradients(generatorParams);
        StepNoise noise = new StepNoise(config.seed(), it, StepNoise.GENERATOR_STEP);
        double bnWeight = config.prior().bnWeight();
        double value;
        try (NDManager scope = manager.newSubManager(); StudentFrozen frozen = new StudentFrozen()) {
            NDArray z = noise.gaussian(scope, config.batchSize(), config.nz());
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray x = generator.generate(z, true);
                NDArray xPix = pixels(x);
                BatchNormPrior prior = bnWeight > 0 ? new BatchNormPrior(teacher.parameters()) : null;
                NDArray t = prior == null ? teacher.forward(xPix, false) : teacher.forward(xPix, false, prior);
                NDArray loss = l1(student.forward(xPix, studentTraining), t).neg();
                if (config.tv2() > 0) {
                    loss = loss.add(tv2(x).mul((float) config.tv2()));
                }
                if (prior != null) {
                    loss = loss.add(prior.total().mul((float) bnWeight));
                }
                collector.backward(loss);
                value = finite(loss.getFloat(), "generator");
            }
        }
        generatorOptimizer.step(config.lrGenerator() * config.lrFactor(it));
        return value;
    }

    /** −ℓ1(S(x), S(x + pad(Gp(z2)))) with x = sg(G(z)); one Adam step on Gp. */
    double patchStep(int it) {
        zeroGradients(patchParams);
        StepNoise noise = new StepNoise(config.seed(), it, StepNoise.PATCH_STEP);
        double value;
        try (NDManager scope = manager.newSubManager(); StudentFrozen frozen = new StudentFrozen()) {
            NDArray xPix = pixels(generator.generate(noise.gaussian(scope, config.batchSize(), config.nz()), true));
            NDArray z2 = noise.gaussian(scope, config.batchSize(), config.nz2());
            int top = noise.offset(side - config.patchSize());
            int left = noise.offset(side - config.patchSize());
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray xpPix = xPix.add(StepNoise.pad(patches.generate(z2, true), side, top, left));
                NDArray loss = l1(student.forward(xPix, studentTraining), student.forward(xpPix, studentTraining)).neg();
                collector.backward(loss);
                value = finite(loss.getFloat(), "patch generator");
            }
        }
        patchOptimizer.step(config.lrPatch() * config.lrFactor(it));
        return value;
    }

    /**
     * One step of the {@code --generator-warmup} deviation (0-based {@code step}): R_bn(G(z)) − H(p̄)
     * with p̄ the teacher's softmax averaged over the batch, one step of {@code optimizer} on G. The
     * student takes no part. Returns {R_bn, H(p̄)}.
     */
    double[] warmupStep(TorchAdam optimizer, int step) {
        zeroGradients(generatorParams);
        StepNoise noise = StepNoise.warmup(config.seed(), step);
        double[] out = new double[2];
        try (NDManager scope = manager.newSubManager()) {
            NDArray z = noise.gaussian(scope, config.batchSize(), config.nz());
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                BatchNormPrior prior = new BatchNormPrior(teacher.parameters());
                NDArray logits = teacher.forward(pixels(generator.generate(z, true)), false, prior);
                NDArray p = logits.softmax(1).mean(new int[] {0});
                NDArray entropy = p.mul(p.clip(1e-8f, 1f).log()).sum().neg();
                NDArray rBn = prior.total();
                collector.backward(rBn.sub(entropy));
                out[0] = finite(rBn.getFloat(), "generator warm-up", "--lr-generator");
                out[1] = entropy.getFloat();
            }
        }
        optimizer.step(config.lrGenerator());
        return out;
    }

    /** A fresh Adam (betas 0.9, 0.999) on G's parameters for the warm-up; the caller closes it. */
    TorchAdam warmupOptimizer() {
        return new TorchAdam(generatorParams, 0.9, 0.999, 0, manager);
    }

    /**
     * Within a generator step the student's weights need no gradient: only the generator's input
     * gradient flows through it. PyTorch computes them anyway and discards them at the next
     * zero_grad(); freezing skips that work, and the student step still zeroes first.
     */
    private final class StudentFrozen implements AutoCloseable {
        StudentFrozen() {
            studentParams.forEach(p -> p.getArray().setRequiresGradient(false));
        }

        @Override
        public void close() {
            studentParams.forEach(p -> p.getArray().setRequiresGradient(true));
        }
    }

    private NDArray pixels(NDArray normalised) {
        return normalised.mul(std).add(mean);
    }

    /** F.l1_loss(a, b), reduction mean: over all B·K entries. */
    static NDArray l1(NDArray a, NDArray b) {
        return a.sub(b).abs().mean();
    }

    /** Σ over the four neighbour differences of their Frobenius norm over the whole batch (sum-type). */
    static NDArray tv2(NDArray x) {
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        NDArray horizontal = x.get(":, :, :, :" + (w - 1)).sub(x.get(":, :, :, 1:"));
        NDArray vertical = x.get(":, :, :" + (h - 1) + ", :").sub(x.get(":, :, 1:, :"));
        NDArray anti = x.get(":, :, 1:, :" + (w - 1)).sub(x.get(":, :, :" + (h - 1) + ", 1:"));
        NDArray diagonal = x.get(":, :, :" + (h - 1) + ", :" + (w - 1)).sub(x.get(":, :, 1:, 1:"));
        return norm(horizontal).add(norm(vertical)).add(norm(anti)).add(norm(diagonal));
    }

    /** The Frobenius norm of {@code d}, a scalar array. */
    static NDArray norm(NDArray d) {
        return d.square().sum().sqrt();
    }

    private static void zeroGradients(List<Parameter> params) {
        for (Parameter p : params) {
            JniUtils.zeroGrad((PtNDArray) p.getArray());
        }
    }

    private static double finite(float value, String what) {
        return finite(value, what, "--lr-student");
    }

    private static double finite(float value, String what, String rateToLower) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException("DHBE diverged: the " + what + " loss is " + value
                    + " (try a lower " + rateToLower + ")");
        }
        return value;
    }

    Classifier student() {
        return student;
    }

    Classifier teacher() {
        return teacher;
    }

    Generators.Image generator() {
        return generator;
    }

    Generators.Patch patches() {
        return patches;
    }

    List<Parameter> studentParameters() {
        return studentParams;
    }

    // ---- checkpoint state -----------------------------------------------------------------------

    /** Every tensor a resumed run needs: the three networks (with BN running statistics) and optimiser moments. */
    Map<String, HostTensor> tensors() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        student.stateDict().forEach((k, v) -> out.put("student/" + k, rename("student/" + k, v)));
        put(out, "generator/", generator.parametersByTorchName());
        put(out, "patch/", patches.parametersByTorchName());
        TorchSgd.State sgd = studentOptimizer.exportState();
        putList(out, "sgd/", sgd.buffers(), studentParams);
        TorchAdam.State g = generatorOptimizer.exportState();
        putList(out, "adam_generator/m/", g.means(), generatorParams);
        putList(out, "adam_generator/v/", g.variances(), generatorParams);
        TorchAdam.State p = patchOptimizer.exportState();
        putList(out, "adam_patch/m/", p.means(), patchParams);
        putList(out, "adam_patch/v/", p.variances(), patchParams);
        return out;
    }

    /** The scalar optimiser state that goes with {@link #tensors()}. */
    Map<String, String> scalars() {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("sgd_last_lr", Double.toString(studentOptimizer.exportState().lastLr()));
        out.put("adam_generator_steps", Long.toString(generatorOptimizer.steps()));
        out.put("adam_patch_steps", Long.toString(patchOptimizer.steps()));
        return out;
    }

    /** Restores {@link #tensors()} and {@link #scalars()}; a missing or mis-shaped entry is an error naming it. */
    void restore(Map<String, HostTensor> tensors, Map<String, String> scalars) throws BundleException {
        Map<String, HostTensor> studentState = new LinkedHashMap<>();
        for (String key : student.parameters().keySet()) {
            studentState.put(key, require(tensors, "student/" + key, student.parameters().get(key)));
        }
        Map<String, float[]> g = values(tensors, "generator/", generator.parametersByTorchName());
        Map<String, float[]> gp = values(tensors, "patch/", patches.parametersByTorchName());
        TorchSgd.State sgd = new TorchSgd.State(parse(scalars, "sgd_last_lr"), list(tensors, "sgd/", studentParams));
        TorchAdam.State adamG = new TorchAdam.State((long) parse(scalars, "adam_generator_steps"),
                list(tensors, "adam_generator/m/", generatorParams), list(tensors, "adam_generator/v/", generatorParams));
        TorchAdam.State adamP = new TorchAdam.State((long) parse(scalars, "adam_patch_steps"),
                list(tensors, "adam_patch/m/", patchParams), list(tensors, "adam_patch/v/", patchParams));
        student.loadStateDict(studentState, "checkpoint");
        set(generator.parametersByTorchName(), g);
        set(patches.parametersByTorchName(), gp);
        studentOptimizer.importState(sgd);
        generatorOptimizer.importState(adamG);
        patchOptimizer.importState(adamP);
    }

    private static HostTensor rename(String name, HostTensor t) {
        return HostTensor.ofFloats(name, t.shape(), t.floats());
    }

    private static void put(Map<String, HostTensor> out, String prefix, Map<String, Parameter> params) {
        params.forEach((k, p) -> out.put(prefix + k,
                HostTensor.ofFloats(prefix + k, p.getArray().getShape().getShape(), p.getArray().toFloatArray())));
    }

    private static void putList(Map<String, HostTensor> out, String prefix, List<float[]> values, List<Parameter> params) {
        for (int i = 0; i < values.size(); i++) {
            if (values.get(i) != null) {
                out.put(prefix + i, HostTensor.ofFloats(prefix + i, params.get(i).getArray().getShape().getShape(),
                        values.get(i)));
            }
        }
    }

    private static HostTensor require(Map<String, HostTensor> tensors, String key, Parameter like)
            throws BundleException {
        HostTensor t = tensors.get(key);
        if (t == null || t.isInteger() || t.size() != like.getArray().size()) {
            throw new BundleException("checkpoint entry " + key + (t == null ? " is missing" : " does not match"));
        }
        return t;
    }

    private static Map<String, float[]> values(Map<String, HostTensor> tensors, String prefix,
            Map<String, Parameter> params) throws BundleException {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            out.put(e.getKey(), require(tensors, prefix + e.getKey(), e.getValue()).floats());
        }
        return out;
    }

    private static List<float[]> list(Map<String, HostTensor> tensors, String prefix, List<Parameter> params)
            throws BundleException {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            HostTensor t = tensors.get(prefix + i);
            out.add(t == null ? null : require(tensors, prefix + i, params.get(i)).floats());
        }
        return out;
    }

    private static void set(Map<String, Parameter> params, Map<String, float[]> values) {
        params.forEach((k, p) -> p.getArray().set(values.get(k)));
    }

    private static double parse(Map<String, String> scalars, String key) throws BundleException {
        String v = scalars.get(key);
        if (v == null) {
            throw new BundleException("checkpoint metadata " + key + " is missing");
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new BundleException("checkpoint metadata " + key + " is not a number: " + v);
        }
    }

    @Override
    public void close() {
        studentOptimizer.close();
        generatorOptimizer.close();
        patchOptimizer.close();
        manager.close();
        teacher.close();
        for (Parameter p : studentParams) {
            JniUtils.zeroGrad((PtNDArray) p.getArray());
        }
    }
}
