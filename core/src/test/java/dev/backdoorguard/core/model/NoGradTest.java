package dev.backdoorguard.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.backdoorguard.core.arch.Architectures;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Inference blocks turn grad mode off and give the caller back the mode it had. */
class NoGradTest {
    @BeforeAll
    static void loadTheEngine() {
        Engine.getInstance(); // loads libtorch, whose JNI the grad-mode calls are
    }

    @AfterEach
    void restoreTheDefault() {
        JniUtils.setGradMode(true);
    }

    @Test
    void restoresWhicheverModeWasOn() {
        for (boolean before : new boolean[] {true, false}) {
            JniUtils.setGradMode(before);
            try (NoGrad outer = NoGrad.enter()) {
                assertThat(JniUtils.isGradMode()).isFalse();
                try (NoGrad inner = NoGrad.enter()) {
                    assertThat(JniUtils.isGradMode()).isFalse();
                }
                assertThat(JniUtils.isGradMode()).as("inner block restores the outer one's mode").isFalse();
            }
            assertThat(JniUtils.isGradMode()).isEqualTo(before);
        }
    }

    @Test
    void inferenceBetweenTwoTrainingStepsLeavesGradModeOn() throws Exception {
        JniUtils.setGradMode(true);
        try (Classifier model = Classifier.load(Path.of("src/test/resources/parity/cnn-small"), Architectures.standard())) {
            model.logits(new float[2 * 28 * 28], 2);
        }
        assertThat(JniUtils.isGradMode()).isTrue();
    }
}
