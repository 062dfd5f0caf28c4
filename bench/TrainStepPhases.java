// One training step of guard's DJL loop split into phases (forward+loss, backward, update), batch 128, medians
// of 40 steps, random data: the DJL side of bench/torch_step_phases.py. Usage (after mvn package; source
// bin/native-memory.sh first to get the launcher's malloc settings):
//   java -Dai.djl.offline=true -cp 'offline/target/guard-offline.jar:offline/target/lib/*' bench/TrainStepPhases.java ARCH [WIDTH]
import ai.djl.engine.Engine;
import ai.djl.ndarray.*;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.train.Losses;
import dev.backdoorguard.offline.train.TorchSgd;
import java.util.*;

public class TrainStepPhases {
    public static void main(String[] a) throws Exception {
        String arch = a[0]; Integer width = a.length > 1 ? Integer.valueOf(a[1]) : null;
        ModelSpec spec = new ModelSpec(arch, new int[] {1, 28, 28}, 10, new float[] {0.286f}, new float[] {0.353f}, List.of(), width, null);
        int batch = 128;
        try (Classifier c = Classifier.create(spec, Architectures.standard(), 1)) {
            List<Parameter> ps = c.parameters().values().stream().filter(Parameter::requiresGradient).toList();
            float[] px = new float[batch * 784]; float[] y = new float[batch];
            Random r = new Random(1);
            for (int i = 0; i < px.length; i++) px[i] = r.nextFloat();
            for (int i = 0; i < batch; i++) y[i] = r.nextInt(10);
            try (TorchSgd sgd = new TorchSgd(ps, 0.9, 5e-4, c.manager())) {
                int iters = 40; long[][] t = new long[3][iters];
                for (int it = -10; it < iters; it++) {
                    long t0 = System.nanoTime(), t1, t2;
                    try (NDManager s = c.manager().newSubManager(); GradientCollector g = Engine.getInstance().newGradientCollector()) {
                        NDArray x = s.create(px, new Shape(batch, 1, 28, 28));
                        NDArray loss = Losses.crossEntropy(c.forward(x, true), s.create(y));
                        loss.getFloat();
                        t1 = System.nanoTime();
                        g.backward(loss);
                        t2 = System.nanoTime();
                    }
                    sgd.step(0.01);
                    long t3 = System.nanoTime();
                    if (it >= 0) { t[0][it] = t1 - t0; t[1][it] = t2 - t1; t[2][it] = t3 - t2; }
                }
                for (long[] x : t) Arrays.sort(x);
                System.out.printf("DJL %s: forward+loss %.2f ms, backward %.2f ms, update %.2f ms%n", arch, t[0][iters/2]/1e6, t[1][iters/2]/1e6, t[2][iters/2]/1e6);
            }
        }
    }
}
