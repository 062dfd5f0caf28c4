package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.Augmentation;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.eval.Evaluator;
import dev.backdoorguard.core.model.Classifier;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Real Fashion-MNIST: a few epochs on a small class-balanced subset must learn. */
class TrainingLoopTest {
    @Test
    void cnnSmallLearnsFashionMnistSubset() throws Exception {
        ImageDataset train = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TRAIN, 10);
        ImageDataset small = train.subset(Subsets.classBalanced(train.labels(), 10, 100, 1).selected());
        ModelSpec spec = new ModelSpec("cnn-small", new int[] {1, 28, 28}, 10, new float[] {0.286f},
                new float[] {0.353f}, List.of(), null, null);
        try (Classifier model = Classifier.create(spec, Architectures.standard(), 1)) {
            TrainingConfig config = new TrainingConfig(4, 64, 0.05, 0.9, 5e-4, true, Augmentation.NONE, 1);
            List<TrainingLoop.Epoch> epochs = new TrainingLoop(config).train(model, small, (e, n, s, t, l) -> {});
            System.out.println(epochs);
            assertThat(epochs.get(3).meanLoss()).isLessThan(epochs.get(0).meanLoss() * 0.7);
            AttackMetrics m = new Evaluator(256).evaluate(model, small, null, 0);
            assertThat(m.acc()).isGreaterThan(0.6);
        }
    }
}
