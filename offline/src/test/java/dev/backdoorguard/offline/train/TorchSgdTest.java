package dev.backdoorguard.offline.train;

import ai.djl.ndarray.NDManager;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The optimizer against torch.optim.SGD(lr, momentum 0.9, weight_decay 5e-4) on a toy linear
 * problem, with the learning rate changed before every step (0.1, 0.05, 0.01): the case where DJL's
 * own SGD, which folds the learning rate into the momentum buffer, would differ.
 */
class TorchSgdTest {
    @Test
    void threeStepsWithChangingLearningRateMatchPyTorch() throws Exception {
        Map<String, HostTensor> f = SafeTensors.read(Path.of("../core/src/test/resources/parity/training/sgd.safetensors"));
        try (NDManager m = NDManager.newBaseManager()) {
            ToyLinearProblem toy = new ToyLinearProblem(m, f);
            float[] lrs = f.get("lrs").floats();
            try (TorchSgd sgd = new TorchSgd(List.of(toy.w, toy.b), 0.9, 5e-4, m)) {
                for (int step = 1; step <= 3; step++) {
                    toy.backward();
                    sgd.step(lrs[step - 1]);
                    toy.assertParameters(f.get("w" + step), f.get("b" + step), 1e-5, "after step " + step);
                }
            }
        }
    }
}
