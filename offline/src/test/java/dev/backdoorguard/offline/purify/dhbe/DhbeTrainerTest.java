package dev.backdoorguard.offline.purify.dhbe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.nn.Parameter;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
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

    static Classifier load() throws Exception {
        return Classifier.load(MODEL, Architectures.standard());
    }

    @Test
    void generatorStepsLeaveNoGradientInTheStudentAndTheStudentStepEqualsOneComputedAlone() throws Exception {
        for (boolean patchStep : new boolean[] {false, true}) {
            try (Classifier a = load(); Classifier b = load();
                    DhbeTrainer leaky = new DhbeTrainer(a, config(10, 1));
                    DhbeTrainer alone = new DhbeTrainer(b, config(10, 1))) {
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
                DhbeConfig.StudentBn.EVAL);
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
    void resumingFromACheckpointReproducesTheUninterruptedRunExactly() throws Exception {
        DhbeConfig config = config(6, 3); // LR milestones at 3 and 4: the resume crosses both
        Map<String, HostTensor> uninterrupted;
        try (Classifier m = load()) {
            new DhbePurifier(config, DhbeCheckpoints.none(), null, 0, DhbeListener.NONE)
                    .purify(m, PurificationData.none());
            uninterrupted = m.stateDict();
        }
        Path dir = tmp.resolve("ckpt");
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
            }).purify(m, PurificationData.none());
            assertThat(resumedIterations).containsExactly(4, 5, 6);
            assertThat(report.details().get("resumed_from_iteration").asInt()).isEqualTo(3);
            assertThat(report.details().get("losses")).hasSize(6);
            Map<String, HostTensor> resumed = m.stateDict();
            for (String key : uninterrupted.keySet()) {
                assertThat(resumed.get(key).floats()).as(key).isEqualTo(uninterrupted.get(key).floats());
            }
        }
        // a different seed gives a different student: the equality above is not vacuous
        try (Classifier m = load()) {
            new DhbePurifier(config(6, 4), DhbeCheckpoints.none(), null, 0, DhbeListener.NONE)
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
        assertThatThrownBy(() -> resume.checkResumable(new DhbeConfig(4, 16, 4, 8, 8, 5, 0.05, 1e-3, 1e-3, 0.1, 1e-4,
                3))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch_size 8 -> 16");
        resume.checkResumable(config(4, 3));
        assertThatThrownBy(() -> resume.checkResumable(new DhbeConfig(4, 8, 4, 8, 8, 5, 0.05, 1e-3, 1e-3, 0.1, 1e-4,
                3, DhbeConfig.StudentBn.EVAL))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("student_bn train -> eval");
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
