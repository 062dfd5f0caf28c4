package dev.backdoorguard.core.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.core.trigger.Triggers;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The metrics against a recount from the raw predictions: ASR and RA over the non-target images,
 * and DHBE's conditional ASR over those also classified correctly when clean.
 */
class EvaluatorTest {
    @Test
    void metricsMatchARecountFromThePredictions() throws Exception {
        ImageDataset all = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TEST, 10);
        ImageDataset test = all.subset(IntStream.range(0, 300).toArray());
        int target = 0;
        Trigger trigger = Triggers.create("badnets", Triggers.DEFAULT_SEED, null, test.shape());
        try (Classifier model = Classifier.load(Path.of("src/test/resources/parity/cnn-small"), Architectures.standard())) {
            Evaluator evaluator = new Evaluator(64);
            AttackMetrics m = evaluator.evaluate(model, test, trigger, target);

            int[] clean = evaluator.predict(model, test, null, done -> {});
            int[] victims = IntStream.range(0, test.size()).filter(i -> test.labels()[i] != target).toArray();
            int[] triggered = evaluator.predict(model, test.subset(victims), trigger, done -> {});
            int correct = (int) IntStream.range(0, test.size()).filter(i -> clean[i] == test.labels()[i]).count();
            int hits = 0;
            int recovered = 0;
            int eligible = 0;
            int conditionalHits = 0;
            for (int j = 0; j < victims.length; j++) {
                int truth = test.labels()[victims[j]];
                hits += triggered[j] == target ? 1 : 0;
                recovered += triggered[j] == truth ? 1 : 0;
                if (clean[victims[j]] == truth) {
                    eligible++;
                    conditionalHits += triggered[j] == target ? 1 : 0;
                }
            }
            assertThat(m.cleanCorrect()).isEqualTo(correct);
            assertThat(m.attackTotal()).isEqualTo(victims.length);
            assertThat(m.attackHits()).isEqualTo(hits);
            assertThat(m.attackRecovered()).isEqualTo(recovered);
            assertThat(m.conditionalTotal()).isEqualTo(eligible).isLessThan(victims.length).isPositive();
            assertThat(m.conditionalHits()).isEqualTo(conditionalHits);
            assertThat(m.asrConditional()).isEqualTo((double) conditionalHits / eligible);
            assertThat(AttackMetrics.cleanOnly(3, 4).asrConditional()).isNaN();
        }
    }

    @Test
    void bothEvaluatorsRefuseDataTheModelCannotTake() throws Exception {
        ImageDataset wrongSize = new ImageDataset(1, 32, 32, 10, new float[2 * 32 * 32], new int[] {0, 1});
        ImageDataset tooManyClasses = new ImageDataset(1, 28, 28, 12, new float[2 * 784], new int[] {0, 11});
        try (Classifier model = Classifier.load(Path.of("src/test/resources/parity/cnn-small"), Architectures.standard());
                ModelGuard guard = new ModelGuard(model)) {
            Evaluator plain = new Evaluator(64);
            DetectorEvaluator guarded = new DetectorEvaluator(64);
            for (ThrowingCallable call : new ThrowingCallable[] {
                () -> plain.evaluate(model, wrongSize, null, 0),
                () -> guarded.evaluate(guard, wrongSize, null, 0, done -> {})}) {
                assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("data set images are [1, 32, 32] but the model expects [1, 28, 28]");
            }
            for (ThrowingCallable call : new ThrowingCallable[] {
                () -> plain.evaluate(model, tooManyClasses, null, 0),
                () -> guarded.evaluate(guard, tooManyClasses, null, 0, done -> {})}) {
                assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("data set has 12 classes but the model has 10");
            }
        }
    }
}
