package dev.backdoorguard.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import dev.backdoorguard.core.TestModels;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.HostTensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Classifier#copy}: the same parameters and buffers, in storage of its own. */
class ClassifierCopyTest {

    @Test
    void aCopyHasEveryValueAndOutlivesChangesToAndTheCloseOfTheOriginal() throws Exception {
        Map<String, HostTensor> before;
        Classifier copy;
        try (Classifier original = Classifier.create(TestModels.fashion("cnn-small", null), Architectures.standard(), 5)) {
            copy = original.copy();
            before = original.stateDict();
            assertThat(copy.architecture()).isEqualTo(original.architecture());
            before.forEach((k, v) -> assertThat(copy.stateDict().get(k).floats()).as(k).isEqualTo(v.floats()));
            NDArray w = original.parameters().get("features.0.weight").getArray();
            w.subi(1f); // in place on the original only
            assertThat(copy.stateDict().get("features.0.weight").floats())
                    .isEqualTo(before.get("features.0.weight").floats());
        }
        try (copy) {
            assertThat(copy.stateDict().get("classifier.2.weight").floats())
                    .isEqualTo(before.get("classifier.2.weight").floats());
        }
    }
}
