package dev.backdoorguard.offline.purify.dhbe;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * DHBE settings (specs/dhbe-seam.md §A.5). {@code iterations} counts outer iterations of 5 student
 * steps, one generator step and one patch-generator step; the learning rates of all three drop ×0.1
 * at {@code int(0.6·iterations)} and {@code int(0.8·iterations)}. The student's momentum (0.9) and
 * weight decay (5e-4) and the 5 : 1 : 1 ratio are part of the algorithm and not configurable.
 */
public record DhbeConfig(
        int iterations,
        int batchSize,
        int ngf,
        int nz,
        int nz2,
        int patchSize,
        double lrStudent,
        double lrGenerator,
        double lrPatch,
        double lossWeightPatch,
        double tv2,
        long seed,
        StudentBn studentBn,
        GeneratorPrior prior) {
    public static final int STUDENT_STEPS = 5;
    public static final double MOMENTUM = 0.9;
    public static final double WEIGHT_DECAY = 5e-4;

    /**
     * How the student's BatchNorm layers run during distillation. {@code TRAIN} is the reference (batch
     * statistics, running statistics updated on every synthetic batch, in all three step types).
     * {@code EVAL} is a named deviation (docs/BENCHMARKS.md §7): running statistics frozen and used for
     * normalisation in every student forward; gradients still reach every weight, including BN's affine ones.
     */
    public enum StudentBn {
        TRAIN, EVAL;

        public static StudentBn parse(String name) {
            for (StudentBn b : values()) {
                if (b.label().equals(name)) {
                    return b;
                }
            }
            throw new IllegalArgumentException("--student-bn must be train or eval, got " + name);
        }

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * A named deviation (docs/BENCHMARKS.md §7.2b) that gives the image generator a prior towards the
     * teacher's training data, in the manner of DeepInversion's BatchNorm-statistics regulariser:
     * R_bn(x) = Σ over the teacher's BatchNorm layers of ‖μ_B − running_mean‖₂ + ‖σ²_B − running_var‖₂,
     * with μ_B and σ²_B (population) the per-channel batch statistics of the layer's input on G's images.
     * {@code warmupSteps} Adam steps of G alone (its own optimiser, lr = --lr-generator) on R_bn − H(p̄)
     * run before the first iteration, H(p̄) the entropy of the teacher's batch-mean softmax, so that the
     * student's first targets are not the backdoor's one class; {@code bnWeight}·R_bn is added to G's loss
     * in every generator step of the loop. {@link #NONE} (both 0) is the reference.
     */
    public record GeneratorPrior(int warmupSteps, double bnWeight) {
        public static final GeneratorPrior NONE = new GeneratorPrior(0, 0);

        public GeneratorPrior {
            if (warmupSteps < 0) {
                throw new IllegalArgumentException("--generator-warmup must be >= 0, got " + warmupSteps);
            }
            if (!(bnWeight >= 0) || Double.isInfinite(bnWeight)) {
                throw new IllegalArgumentException("--bn-prior must be finite and >= 0, got " + bnWeight);
            }
        }

        public boolean isReference() {
            return warmupSteps == 0 && bnWeight == 0;
        }
    }

    /** The reference configuration: the student's BatchNorm in train mode, no generator prior. */
    public DhbeConfig(int iterations, int batchSize, int ngf, int nz, int nz2, int patchSize, double lrStudent,
            double lrGenerator, double lrPatch, double lossWeightPatch, double tv2, long seed) {
        this(iterations, batchSize, ngf, nz, nz2, patchSize, lrStudent, lrGenerator, lrPatch, lossWeightPatch, tv2,
                seed, StudentBn.TRAIN, GeneratorPrior.NONE);
    }

    public DhbeConfig {
        java.util.Objects.requireNonNull(studentBn, "studentBn");
        java.util.Objects.requireNonNull(prior, "prior");
        positive("--iterations", iterations);
        positive("--batch-size", batchSize);
        if (batchSize < 2) {
            // batch-statistics BN in the generators needs more than one sample per channel
            throw new IllegalArgumentException("--batch-size must be >= 2, got " + batchSize);
        }
        positive("--ngf", ngf);
        positive("--nz", nz);
        positive("--nz2", nz2);
        positive("--patch-size", patchSize);
        rate("--lr-student", lrStudent);
        rate("--lr-generator", lrGenerator);
        rate("--lr-patch", lrPatch);
        if (!(lossWeightPatch >= 0) || Double.isInfinite(lossWeightPatch)) {
            throw new IllegalArgumentException("--loss-weight-patch must be finite and >= 0, got " + lossWeightPatch);
        }
        if (!(tv2 >= 0) || Double.isInfinite(tv2)) {
            throw new IllegalArgumentException("--tv2 must be finite and >= 0, got " + tv2);
        }
    }

    private static void positive(String option, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(option + " must be > 0, got " + value);
        }
    }

    private static void rate(String option, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(option + " must be finite and > 0, got " + value);
        }
    }

    /** The {@code training} flag of every student forward: false with {@code --student-bn eval}. */
    public boolean studentBnTraining() {
        return studentBn == StudentBn.TRAIN;
    }

    /** The learning-rate factor at 0-based {@code iteration}: 1, then 0.1 from 60%, 0.01 from 80% of the run. */
    public double lrFactor(int iteration) {
        double f = 1;
        if (iteration >= (int) (0.6 * iterations)) {
            f *= 0.1;
        }
        if (iteration >= (int) (0.8 * iterations)) {
            f *= 0.1;
        }
        return f;
    }

    /** Every setting as report.json spells it; a checkpoint must match all of them to be resumed. */
    public ObjectNode toJson() {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("iterations", iterations).put("batch_size", batchSize).put("ngf", ngf).put("nz", nz).put("nz2", nz2)
                .put("patch_size", patchSize).put("lr_student", lrStudent).put("lr_generator", lrGenerator)
                .put("lr_patch", lrPatch).put("loss_weight_patch", lossWeightPatch).put("tv2", tv2).put("seed", seed)
                .put("student_bn", studentBn.label())
                .put("generator_warmup", prior.warmupSteps()).put("bn_prior", prior.bnWeight())
                .put("student_steps_per_iteration", STUDENT_STEPS).put("student_momentum", MOMENTUM)
                .put("student_weight_decay", WEIGHT_DECAY).put("generator_betas", "0.9, 0.999")
                .put("lr_milestones", (int) (0.6 * iterations) + ", " + (int) (0.8 * iterations));
        return n;
    }
}
