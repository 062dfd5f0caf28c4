package dev.backdoorguard.offline.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The optimizer against torch.optim.Adam on a toy linear problem over three steps with the
 * learning rate changed between them (tools/make_fixtures.py, adam.safetensors): default betas
 * without weight decay, and SEAM's recover betas (0.5, 0.9) with a weight decay large enough to show.
 */
class TorchAdamTest {
    @ParameterizedTest
    @CsvSource({"plain, 0.9, 0.999, 0.0", "decay, 0.5, 0.9, 0.1"})
    void threeStepsMatchPyTorch(String name, double beta1, double beta2, double weightDecay) throws Exception {
        Map<String, HostTensor> f = SafeTensors.read(Path.of("../core/src/test/resources/parity/training/adam.safetensors"));
        try (NDManager m = NDManager.newBaseManager()) {
            ToyLinearProblem toy = new ToyLinearProblem(m, f);
            float[] lrs = f.get("lrs").floats();
            try (TorchAdam adam = new TorchAdam(List.of(toy.w, toy.b), beta1, beta2, weightDecay, m)) {
                for (int step = 1; step <= 3; step++) {
                    toy.backward();
                    adam.step(lrs[step - 1]);
                    assertThat(adam.steps()).isEqualTo(step);
                    toy.assertParameters(f.get(name + "_w" + step), f.get(name + "_b" + step), 1e-6,
                            name + " after step " + step);
                }
            }
        }
    }

    @Test
    void rejectsBadSettings() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> new TorchAdam(List.of(), 1.0, 0.999, 0, m)).hasMessageContaining("beta1");
            assertThatThrownBy(() -> new TorchAdam(List.of(), 0.9, Double.NaN, 0, m)).hasMessageContaining("beta2");
            assertThatThrownBy(() -> new TorchAdam(List.of(), 0.9, 0.999, -1, m)).hasMessageContaining("weight decay");
        }
    }
}
