package dev.backdoorguard.core.guard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.TestModels;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.model.Classifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class ModelGuardTest {

    private static PixelBatch randomBatch(int n, long seed) {
        Random random = new Random(seed);
        float[] pixels = new float[n * 28 * 28];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextFloat();
        }
        return new PixelBatch(pixels, n, 1, 28, 28);
    }

    @Test
    void predictsLikeTheClassifierAndLeaksNothingIntoTheModelsManager() {
        try (Classifier classifier = Classifier.create(TestModels.fashion("cnn-small", null), Architectures.standard(), 7);
                ModelGuard guard = new ModelGuard(classifier)) {
            PixelBatch batch = randomBatch(3, 1);
            float[][] expected = classifier.logits(batch.pixels(), 3);
            classifier.manager().cap();
            BatchPrediction p = guard.predict(batch, true);
            for (int i = 0; i < 3; i++) {
                for (int k = 0; k < 10; k++) {
                    assertThat(p.logits()[i * 10 + k]).isEqualTo(expected[i][k]);
                }
                float sum = 0;
                for (int k = 0; k < 10; k++) {
                    sum += p.probabilities()[i * 10 + k];
                }
                assertThat(sum).isBetween(0.999f, 1.001f);
                assertThat(p.labels()[i]).isEqualTo(argmax(expected[i]));
            }
            assertThat(p.isGuarded()).isFalse();
            assertThat(p.flaggedCount()).isZero();
        }
    }

    @Test
    void concurrentCallersGetTheSameAnswersAsOneCaller() throws Exception {
        try (Classifier classifier = Classifier.create(TestModels.fashion("cnn-small", null), Architectures.standard(), 7);
                ModelGuard guard = new ModelGuard(classifier)) {
            List<PixelBatch> batches = new ArrayList<>();
            List<float[]> expected = new ArrayList<>();
            for (int b = 0; b < 8; b++) {
                batches.add(randomBatch(1 + b % 3, 100 + b));
                expected.add(guard.predict(batches.get(b), false).logits());
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<float[]>> futures = new ArrayList<>();
                for (int round = 0; round < 4; round++) {
                    for (PixelBatch batch : batches) {
                        futures.add(pool.submit(() -> guard.predict(batch, false).logits()));
                    }
                }
                for (int i = 0; i < futures.size(); i++) {
                    assertThat(futures.get(i).get()).containsExactly(expected.get(i % batches.size()));
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void rejectsAnImageShapeThatIsNotTheModels() {
        try (Classifier classifier = Classifier.create(TestModels.fashion("cnn-small", null), Architectures.standard(), 7);
                ModelGuard guard = new ModelGuard(classifier)) {
            PixelBatch wrong = new PixelBatch(new float[2 * 3 * 28 * 28], 2, 3, 28, 28);
            assertThatThrownBy(() -> guard.predict(wrong, false))
                    .isInstanceOf(InvalidInputException.class)
                    .hasMessageContaining("expected images [N, 1, 28, 28], got [2, 3, 28, 28]");
        }
        assertThatThrownBy(() -> new PixelBatch(new float[5], 1, 1, 28, 28))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("needs 784 values, got 5");
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
