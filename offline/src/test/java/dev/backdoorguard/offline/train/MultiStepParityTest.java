package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Parameter;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.model.Classifier;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Twenty SGD steps (lr 0.1, momentum 0.9, wd 5e-4, batch 32) on the first 640 real Fashion-MNIST
 * training images, from the PyTorch-written parity bundle: the per-step losses track PyTorch's.
 */
class MultiStepParityTest {
    static final Path PARITY = Path.of("../core/src/test/resources/parity");

    @Test
    void twentyStepsTrackPyTorchLossForLoss() throws Exception {
        float[] expected = SafeTensors.read(PARITY.resolve("training/steps.safetensors")).get("losses").floats();
        ImageDataset train = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TRAIN, 10);
        try (Classifier model = Classifier.load(PARITY.resolve("cnn-small"), Architectures.standard())) {
            List<Parameter> trainable = model.parameters().values().stream().filter(Parameter::requiresGradient).toList();
            float[] actual = new float[expected.length];
            try (TorchSgd sgd = new TorchSgd(trainable, 0.9, 5e-4, model.manager())) {
                for (int s = 0; s < expected.length; s++) {
                    float[] pixels = new float[32 * 784];
                    float[] labels = new float[32];
                    System.arraycopy(train.pixels(), s * 32 * 784, pixels, 0, pixels.length);
                    for (int i = 0; i < 32; i++) {
                        labels[i] = train.labels()[s * 32 + i];
                    }
                    actual[s] = (float) TrainingLoop.step(model, pixels, labels, 32, train);
                    sgd.step(0.1);
                }
            }
            System.out.println("djl     " + java.util.Arrays.toString(actual));
            System.out.println("pytorch " + java.util.Arrays.toString(expected));
            // Float rounding (kernel choice, reduction order across threads) differs from PyTorch's at
            // the 1e-5 level from the second step on, and lr 0.1 training amplifies it: the early steps
            // must agree closely, the later ones within a wider band (a wrong update rule is off by far
            // more from the first steps on: see TorchSgdTest).
            for (int s = 0; s < expected.length; s++) {
                double tolerance = s < 10 ? 5e-3 : 5e-2;
                assertThat((double) actual[s]).as("loss at step " + s).isCloseTo(expected[s],
                        org.assertj.core.data.Offset.offset(tolerance));
            }
        }
    }
}
