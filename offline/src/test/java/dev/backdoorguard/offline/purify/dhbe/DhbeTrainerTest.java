package dev.backdoorguard.offline.purify.dhbe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.train.TorchAdam;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loop's gradient hygiene, its checkpoint/resume equivalence and its refusal of bad checkpoints. */
class DhbeTrainerTest {
    static final Path MODEL = Path.of("../core/src/test/resources/parity/cnn-small");

    @TempDir Path tmp;

    static DhbeConfig config(int iterations, long seed) {
        return new DhbeConfig(iterations, 8, 4, 8, 8, 5, 0.05, 1e-3, 1e-3, 0.1, 1e-4, seed);
    }

    static DhbeConfig withPrior(DhbeConfig c, DhbeConfig.GeneratorPrior prior) {
        return new DhbeConfig(c.iterations(), c.batchSize(), c.ngf(), c.nz(), c.nz2(), c.patchSize(), c.lrStudent(),
                c.lrGenerator(), c.lrPatch(), c.lossWeightPatch(), c.tv2(), c.seed(), c.studentBn(), prior);
    }

    static Classifier load() throws Exception {
        return Classifier.load(MODEL, Architectures.standard());
    }

    @Test
    void generatorStepsLeaveNoGradientInTheStudentAndTheStudentStepEqualsOneComputedAlone() throws Exception {
        // the reference, and the --bn-prior deviation, whose generator step adds the teacher's BN prior
        for (DhbeConfig c : List.of(config(10, 1), withPrior(config(10, 1), new DhbeConfig.GeneratorPrior(0, 1.0)))) {
            generatorStepsLeaveNoGradientInTheStudent(c);
        }
    }

    private void generatorStepsLeaveNoGradientInTheStudent(DhbeConfig c) throws Exception {
        for (boolean patchStep : new boolean[] {false, true}) {
            try (Classifier a = load(); Classifier b = load();
                    DhbeTrainer leaky = new DhbeTrainer(a, c);
                    DhbeTrainer alone = new DhbeTrainer(b, c)) {
                if (patchStep) {
                    leaky.patchStep(0);
                } else {
                    leaky.generatorStep(0);
                }
                // the adversarial step back-propagated through the student to the generator, but left no
                // gradient in the student's weights (PyTorch's loop leaves some and zero_grad() drops them) ...
                for (Parameter p : leaky.studentParameters()) {
                    assertThat(p.getArray().hasGradient()).as("S trainable again: %s", p.getName()).isTrue();
                    assertThat(p.getArray().getGradient().abs().sum().getFloat()).as(p.getName()).isZero();
                }
                // ... and the generator did receive its gradient through the student (Adam moved it)
                assertThat(leaky.tensors().get((patchStep ? "patch/" : "generator/") + "l1.weight").floats())
                        .isNotEqualTo(alone.tensors().get((patchStep ? "patch/" : "generator/") + "l1.weight").floats());
                // and a student step after it equals one computed from the same state alone
                alone.restore(leaky.tensors(), leaky.scalars());
                leaky.studentStep(0, 0);
                alone.studentStep(0, 0);
                Map<String, HostTensor> x = a.stateDict();
                Map<String, HostTensor> y = b.stateDict();
                for (String key : x.keySet()) {
                    assertThat(x.get(key).floats()).as(key).isEqualTo(y.get(key).floats());
                }
            }
        }
    }

    @Test
    void theTeacherIsFrozenAndTheStudentsBatchNormStatisticsMove() throws Exception {
        try (Classifier s = load(); DhbeTrainer trainer = new DhbeTrainer(s, config(10, 1))) {
            Map<String, HostTensor> before = s.stateDict();
            trainer.iteration(0);
            Map<String, HostTensor> after = s.stateDict();
            assertThat(after.get("features.0.weight").floats()).isNotEqualTo(before.get("features.0.weight").floats());
            assertThat(after.get("features.1.running_mean").floats())
                    .isNotEqualTo(before.get("features.1.running_mean").floats());
            // the teacher (a second copy) kept the original weights and statistics, and collects no gradients
            Map<String, HostTensor> teacher = trainer.teacher().stateDict();
            for (String key : before.keySet()) {
                assertThat(teacher.get(key).floats()).as(key).isEqualTo(before.get(key).floats());
            }
            assertThat(trainer.teacher().parameters().get("features.0.weight").getArray().hasGradient()).isFalse();
        }
    }

    @Test
    void withStudentBnEvalTheStudentsWeightsTrainButItsRunningStatisticsStay() throws Exception {
        DhbeConfig c = config(10, 1);
        DhbeConfig eval = new DhbeConfig(c.iterations(), c.batchSize(), c.ngf(), c.nz(), c.nz2(), c.patchSize(),
                c.lrStudent(), c.lrGenerator(), c.lrPatch(), c.lossWeightPatch(), c.tv2(), c.seed(),
                DhbeConfig.StudentBn.EVAL, DhbeConfig.GeneratorPrior.NONE);
        try (Classifier s = load(); DhbeTrainer trainer = new DhbeTrainer(s, eval)) {
            Map<String, HostTensor> before = s.stateDict();
            trainer.studentStep(0, 0);
            Map<String, HostTensor> afterStudentStep = s.stateDict();
            // gradients flowed through the eval-mode forward: the weights, BN's affine ones included, moved
            assertThat(afterStudentStep.get("features.0.weight").floats())
                    .isNotEqualTo(before.get("features.0.weight").floats());
            assertThat(afterStudentStep.get("features.1.weight").floats())
                    .isNotEqualTo(before.get("features.1.weight").floats());
            // ... and no BN running statistic moved, in this step or in the generator steps
            trainer.generatorStep(0);
            trainer.patchStep(0);
            Map<String, HostTensor> after = s.stateDict();
            int statistics = 0;
            for (String key : before.keySet()) {
                if (key.endsWith("running_mean") || key.endsWith("running_var")) {
                    statistics++;
                    assertThat(after.get(key).floats()).as(key).isEqualTo(before.get(key).floats());
                }
            }
            assertThat(statistics).isPositive();
        }
        assertThatThrownBy(() -> DhbeConfig.StudentBn.parse("foo")).hasMessage("--student-bn must be train or eval, got foo");
        assertThat(eval.toJson().get("student_bn").asText()).isEqualTo("eval");
        assertThat(c.toJson().get("student_bn").asText()).isEqualTo("train");
    }

    @Test
    void theBatchNormPriorIsTheDistanceOfTheInputsBatchStatisticsFromTheRunningOnes() {
        try (NDManager m = NDManager.newBaseManager()) {
            // [N=2, C=2, 1, 2]: channel 0 holds 1, 3 | 5, 7 (mean 4, population variance 5), channel 1 all 2
            NDArray x = m.create(new float[] {1, 3, 2, 2, 5, 7, 2, 2}, new Shape(2, 2, 1, 2));
            // a 2-D input (BatchNorm1d): 1 and 3, mean 2, population variance 1
            NDArray v = m.create(new float[] {1, 3}, new Shape(2, 1));
            Map<String, Parameter> stats = Map.of(
                    "a.running_mean", parameter(m, "a.running_mean", 1, 2),
                    "a.running_var", parameter(m, "a.running_var", 1, 3),
                    "b.running_mean", parameter(m, "b.running_mean", 0),
                    "b.running_var", parameter(m, "b.running_var", 0));
            BatchNormPrior prior = new BatchNormPrior(stats);
            prior.offer("some tap", x); // feature taps do not count
            prior.offerBatchNormInput("a", x);
            // means (4, 2) against (1, 2): 3; variances (5, 0) against (1, 3): ‖(4, −3)‖ = 5
            assertThat(prior.total().getFloat()).isCloseTo(8f, org.assertj.core.data.Offset.offset(1e-5f));
            prior.offerBatchNormInput("b", v); // + |2 − 0| + |1 − 0|
            assertThat(prior.total().getFloat()).isCloseTo(11f, org.assertj.core.data.Offset.offset(1e-5f));
            assertThatThrownBy(() -> new BatchNormPrior(stats).offerBatchNormInput("c", v))
                    .hasMessageContaining("BatchNorm layer c has no running_mean");
            assertThatThrownBy(() -> new BatchNormPrior(stats).total()).hasMessageContaining("no BatchNorm layer");
        }
        assertThatThrownBy(() -> new DhbeConfig.GeneratorPrior(-1, 0))
                .hasMessage("--generator-warmup must be >= 0, got -1");
        assertThatThrownBy(() -> new DhbeConfig.GeneratorPrior(0, Double.POSITIVE_INFINITY))
                .hasMessageContaining("--bn-prior must be finite");
    }

    private static Parameter parameter(NDManager m, String name, float... values) {
        Parameter p = Parameter.builder().setName(name).setType(Parameter.Type.RUNNING_MEAN)
                .optRequiresGrad(false).build();
        p.setArray(m.create(values));
        return p;
    }

    @Test
    void theGeneratorWarmupTrainsOnlyTheGeneratorAndBringsItsBatchStatisticsTowardsTheTeachers() throws Exception {
        DhbeConfig c = withPrior(config(10, 1), new DhbeConfig.GeneratorPrior(30, 0));
        try (Classifier s = load(); DhbeTrainer trainer = new DhbeTrainer(s, c);
                TorchAdam optimizer = trainer.warmupOptimizer()) {
            Map<String, HostTensor> student = s.stateDict();
            float[] g0 = trainer.tensors().get("generator/l1.weight").floats();
            double[] first = trainer.warmupStep(optimizer, 0);
            double[] last = first;
            for (int step = 1; step < c.prior().warmupSteps(); step++) {
                last = trainer.warmupStep(optimizer, step);
            }
            assertThat(trainer.tensors().get("generator/l1.weight").floats()).isNotEqualTo(g0);
            // the descent goes the right way: the images' BN statistics moved towards the teacher's
            assertThat(last[0]).isLessThan(first[0]);
            // (this fixture's teacher already spreads noise images evenly, entropy ≈ ln 10; that the
            // warm-up raises a backdoored teacher's entropy is checked in DhbeCommandTest)
            assertThat(last[1]).isBetween(0.0, Math.log(10) + 1e-6);
            // neither network being distilled moved or received a gradient: the student is not in the
            // graph, the teacher is frozen
            for (Parameter p : trainer.studentParameters()) {
                assertThat(p.getArray().getGradient().abs().sum().getFloat()).as(p.getName()).isZero();
            }
            assertThat(trainer.teacher().parameters().get("features.0.weight").getArray().hasGradient()).isFalse();
            Map<String, HostTensor> teacher = trainer.teacher().stateDict();
            Map<String, HostTensor> after = s.stateDict();
            for (String key : student.keySet()) {
                assertThat(after.get(key).floats()).as(key).isEqualTo(student.get(key).floats());
                assertThat(teacher.get(key).floats()).as(key).isEqualTo(student.get(key).floats());
            }
        }
    }

    @Test
    void resumingFromACheckpointReproducesTheUninterruptedRunExactly() throws Exception {
        // LR milestones at 3 and 4: the resume crosses both; also with the generator-prior deviation, whose
        // warm-up runs before the first iteration and must not run again on resume
        resumeReproduces(config(6, 3));
        resumeReproduces(withPrior(config(6, 3), new DhbeConfig.GeneratorPrior(3, 0.5)));
    }

    private void resumeReproduces(DhbeConfig config) throws Exception {
        Map<String, HostTensor> uninterrupted;
        try (Classifier m = load()) {
            new DhbePurifier(config, DhbeCheckpoints.none(), null, 0, DhbeListener.NONE)
                    .purify(m, PurificationData.none());
            uninterrupted = m.stateDict();
        }
        Path dir = tmp.resolve("ckpt-" + config.prior().warmupSteps());
        class Crash extends RuntimeException {}
        try (Classifier m = load()) {
            DhbeListener crashAfterFirstCheckpoint = new DhbeListener() {
                @Override
                public void onCheckpoint(int done, Path where) {
                    throw new Crash();
                }
            };
            assertThatThrownBy(() -> new DhbePurifier(config, new DhbeCheckpoints(dir, 3, false), null, 0,
                    crashAfterFirstCheckpoint).purify(m, PurificationData.none())).isInstanceOf(Crash.class);
        }
        assertThat(dir.resolve(DhbeCheckpoints.META)).exists();
        List<Integer> resumedIterations = new ArrayList<>();
        try (Classifier m = load()) {
            var report = new DhbePurifier(config, new DhbeCheckpoints(dir, 3, true), null, 0, new DhbeListener() {
                @Override
                public void onIteration(int done, int total, DhbeLosses losses, double seconds) {
                    resumedIterations.add(done);
                }

                @Override
                public void onWarmup(int done, int total, double bnPrior, double entropy, double seconds) {
                    resumedIterations.add(-done); // the generator comes from the checkpoint: no warm-up again
                }
            }).purify(m, PurificationData.none());
            assertThat(resumedIterations).containsExactly(4, 5, 6);
            assertThat(report.details().get("resumed_from_iteration").asInt()).isEqualTo(3);
            // the warm-up ran before the interruption; its record comes through the checkpoint
            assertThat(report.details().path("generator_warmup").path("steps").asInt())
                    .isEqualTo(config.prior().warmupSteps());
            assertThat(report.details().get("losses")).hasSize(6);
            Map<String, HostTensor> resumed = m.stateDict();
            for (String key : uninterrupted.keySet()) {
                assertThat(resumed.get(key).floats()).as(key).isEqualTo(uninterrupted.get(key).floats());
            }
        }
        // a different seed, or the prior switched, gives a different student: the equality above is not vacuous
        DhbeConfig other = config.prior().isReference() ? config(6, 4)
                : withPrior(config, DhbeConfig.GeneratorPrior.NONE);
        try (Classifier m = load()) {
            new DhbePurifier(other, DhbeCheckpoints.none(), null, 0, DhbeListener.NONE)
                    .purify(m, PurificationData.none());
            assertThat(m.stateDict().get("features.0.weight").floats())
                    .isNotEqualTo(uninterrupted.get("features.0.weight").floats());
        }
    }

    @Test
    void aMismatchedOrCorruptCheckpointIsRefusedBeforeTraining() throws Exception {
        Path dir = tmp.resolve("ckpt");
        try (Classifier m = load()) {
            new DhbePurifier(config(4, 3), new DhbeCheckpoints(dir, 2, false), null, 0, DhbeListener.NONE)
                    .purify(m, PurificationData.none());
        }
        DhbeCheckpoints resume = new DhbeCheckpoints(dir, 2, true);
        // a checkpoint written before --student-bn, --generator-warmup and --bn-prior existed ran the
        // reference: it resumes a reference run and refuses a deviating one
        Path meta = dir.resolve(DhbeCheckpoints.META);
        ObjectNode saved = (ObjectNode) new ObjectMapper().readTree(meta.toFile());
        ((ObjectNode) saved.get("config")).remove(List.of("student_bn", "generator_warmup", "bn_prior"));
        Files.writeString(meta, saved.toString());
        resume.checkResumable(config(4, 3));
        assertThatThrownBy(() -> resume.checkResumable(withPrior(config(4, 3), new DhbeConfig.GeneratorPrior(0, 1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bn_prior 0.0 -> 1.0");
        assertThatThrownBy(() -> resume.checkResumable(new DhbeConfig(4, 16, 4, 8, 8, 5, 0.05, 1e-3, 1e-3, 0.1, 1e-4,
                3))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch_size 8 -> 16");
        resume.checkResumable(config(4, 3));
        assertThatThrownBy(() -> resume.checkResumable(new DhbeConfig(4, 8, 4, 8, 8, 5, 0.05, 1e-3, 1e-3, 0.1, 1e-4,
                3, DhbeConfig.StudentBn.EVAL, DhbeConfig.GeneratorPrior.NONE))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("student_bn train -> eval");
        assertThatThrownBy(() -> resume.checkResumable(withPrior(config(4, 3), new DhbeConfig.GeneratorPrior(2, 0))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("generator_warmup 0 -> 2");
        Files.write(dir.resolve(DhbeCheckpoints.TENSORS), new byte[] {1, 2, 3});
        try (Classifier m = load()) {
            Map<String, HostTensor> before = m.stateDict();
            assertThatThrownBy(() -> new DhbePurifier(config(4, 3), resume, null, 0, DhbeListener.NONE)
                    .purify(m, PurificationData.none()))
                    .isInstanceOf(UncheckedIOException.class).hasMessageContaining("corrupt checkpoint");
            assertThat(m.stateDict().get("features.0.weight").floats()).isEqualTo(before.get("features.0.weight").floats());
        }
        assertThatThrownBy(() -> new DhbeCheckpoints(tmp.resolve("none"), 0, true).checkResumable(config(4, 3)))
                .hasMessageContaining("no checkpoint");
    }

    @Test
    void badSettingsAreRefused() throws Exception {
        assertThatThrownBy(() -> config(0, 1)).hasMessageContaining("--iterations must be > 0");
        assertThatThrownBy(() -> new DhbeConfig(5, 8, 4, 8, 8, 5, -1, 1e-3, 1e-3, 0.1, 1e-4, 1))
                .hasMessageContaining("--lr-student");
        try (Classifier m = load()) {
            assertThatThrownBy(() -> new DhbeTrainer(m, new DhbeConfig(5, 8, 4, 8, 8, 29, 0.05, 1e-3, 1e-3, 0.1, 1e-4, 1)))
                    .hasMessageContaining("--patch-size 29 is larger than the 28x28 image");
        }
        DhbeConfig c = config(10, 1);
        assertThat(c.lrFactor(5)).isEqualTo(1.0);
        assertThat(c.lrFactor(6)).isEqualTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(c.lrFactor(8)).isEqualTo(0.01, org.assertj.core.data.Offset.offset(1e-12));
    }
}
