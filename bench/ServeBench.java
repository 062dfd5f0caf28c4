// Server throughput against the raw forward pass of the same model, side by side in one run
// (DESIGN §8). Run through bench/serve_bench.sh, which builds the class path from the server jars.
//   java ServeBench.java bundle DIR ARCH          write a seeded random-init 1x28x28, 10-class bundle
//   java ServeBench.java raw DIR BATCH SECONDS WORKERS   ModelGuard.predict in a loop from WORKERS threads (no
//                                                 server), plain and guarded alternating; medians of 5 rounds
//   java ServeBench.java grpc PORT MODEL CLIENTS ITEMS SECONDS   ModelInfer from CLIENTS threads
import com.google.protobuf.ByteString;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

public class ServeBench {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "bundle" -> bundle(Path.of(args[1]), args[2]);
            case "raw" -> raw(Path.of(args[1]), Integer.parseInt(args[2]), Double.parseDouble(args[3]),
                    Integer.parseInt(args[4]));
            case "grpc" -> grpc(Integer.parseInt(args[1]), args[2], Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]), Double.parseDouble(args[5]));
            default -> throw new IllegalArgumentException("mode: bundle | raw | grpc");
        }
    }

    static void bundle(Path dir, String arch) throws Exception {
        ModelSpec spec = new ModelSpec(arch, new int[] {1, 28, 28}, 10, new float[] {0.2860f}, new float[] {0.3530f},
                List.of(), null, null);
        try (Classifier c = Classifier.create(spec, Architectures.standard(), 1)) {
            Bundles.write(dir, true, spec, c.stateDict(), null);
        }
    }

    static float[] pixels(int n) {
        Random r = new Random(1);
        float[] p = new float[n * 784];
        for (int i = 0; i < p.length; i++) {
            p[i] = r.nextFloat();
        }
        return p;
    }

    /**
     * {@code workers} threads calling predict on one shared model, as the server's inference workers do
     * (each with the same PyTorch thread settings), so the baseline gets the server's cores. Plain and
     * guarded passes alternate in rounds within one JVM, and each is reported as the median of its
     * rounds, so that drift in machine speed hits both alike.
     */
    static void raw(Path dir, int batch, double seconds, int workers) throws Exception {
        try (ModelGuard guard = ModelGuard.load(dir, Architectures.standard())) {
            if (!guard.hasDetector()) {
                throw new IllegalArgumentException(dir + " has no detector to run");
            }
            PixelBatch b = new PixelBatch(pixels(batch), batch, 1, 28, 28);
            throughput(guard, b, 2, workers, false);
            throughput(guard, b, 2, workers, true);
            int rounds = 5;
            double[][] rates = new double[2][rounds];
            double[][] cores = new double[2][rounds];
            for (int r = 0; r < rounds; r++) {
                for (int g = 0; g < 2; g++) {
                    long cpu0 = processCpuNanos();
                    long t0 = System.nanoTime();
                    rates[g][r] = throughput(guard, b, seconds / rounds, workers, g == 1);
                    cores[g][r] = (processCpuNanos() - cpu0) / (double) (System.nanoTime() - t0);
                }
            }
            // cores: CPU time of this process over wall time while measuring (for per-core efficiency).
            System.out.printf("raw forward batch %d: %.0f images/s, %.2f cores%n", batch, median(rates[0]),
                    median(cores[0]));
            System.out.printf("raw forward+guard batch %d: %.0f images/s, %.2f cores%n", batch, median(rates[1]),
                    median(cores[1]));
        }
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    static double throughput(ModelGuard guard, PixelBatch b, double seconds, int workers, boolean guarded)
            throws InterruptedException {
        java.util.concurrent.atomic.AtomicLong items = new java.util.concurrent.atomic.AtomicLong();
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    guard.predict(b, guarded);
                    items.addAndGet(b.size());
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        return items.get() / ((System.nanoTime() - start) / 1e9);
    }

    static void grpc(int port, String model, int clients, int items, double seconds) throws Exception {
        ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        ByteBuffer raw = ByteBuffer.allocate(items * 784 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : pixels(items)) {
            raw.putFloat(v);
        }
        ModelInferRequest request = ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("input").setDatatype("FP32")
                        .addShape(items).addShape(1).addShape(28).addShape(28))
                .addRawInputContents(ByteString.copyFrom(raw.array())).build();
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
        for (int i = 0; i < 20; i++) {
            stub.modelInfer(request);
        }
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < clients; t++) {
            Thread th = new Thread(() -> {
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    stub.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(request);
                    latencies.add(System.nanoTime() - t0);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join();
        }
        double s = (System.nanoTime() - start) / 1e9;
        List<Long> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        System.out.printf("grpc %d clients x %d items: %.0f images/s, %d requests, p50 %.2f ms, p99 %.2f ms%n",
                clients, items, sorted.size() * (double) items / s, sorted.size(),
                sorted.get(sorted.size() / 2) / 1e6, sorted.get((int) (sorted.size() * 0.99)) / 1e6);
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
