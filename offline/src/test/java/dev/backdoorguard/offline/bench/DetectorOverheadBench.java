package dev.backdoorguard.offline.bench;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.core.guard.PixelBatch;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The detector's serving overhead (run by {@code bench/detector_overhead.sh}): for the same batch of
 * real test images and the same calibrated bundle, the median wall time of {@code predict(batch,
 * false)} (plain forward) and {@code predict(batch, true)} (forward with taps + scoring),
 * interleaved so that machine noise hits both alike.
 * Usage: {@code DetectorOverheadBench BUNDLE [BATCH=64] [ITERATIONS=50]}.
 */
public final class DetectorOverheadBench {
    private DetectorOverheadBench() {}

    public static void main(String[] args) throws Exception {
        Path bundle = Path.of(args[0]);
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int iterations = args.length > 2 ? Integer.parseInt(args[2]) : 50;
        try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard())) {
            if (!guard.hasDetector()) {
                throw new IllegalArgumentException(bundle + " has no detector.json: run guard calibrate first");
            }
            ImageDataset test = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TEST,
                    guard.spec().numClasses());
            int size = test.imageSize();
            PixelBatch images = new PixelBatch(Arrays.copyOf(test.pixels(), batch * size), batch, test.channels(),
                    test.height(), test.width());
            for (int i = 0; i < Math.max(5, iterations / 5); i++) {
                guard.predict(images, false);
                guard.predict(images, true);
            }
            long[] plain = new long[iterations];
            long[] guarded = new long[iterations];
            for (int i = 0; i < iterations; i++) {
                long t0 = System.nanoTime();
                guard.predict(images, false);
                long t1 = System.nanoTime();
                guard.predict(images, true);
                long t2 = System.nanoTime();
                plain[i] = t1 - t0;
                guarded[i] = t2 - t1;
            }
            double p = median(plain) / 1e6;
            double g = median(guarded) / 1e6;
            System.out.printf("{\"architecture\": \"%s\", \"batch\": %d, \"iterations\": %d, \"taps\": %s,"
                    + " \"plain_forward_ms\": %.3f, \"guarded_forward_ms\": %.3f, \"ratio\": %.4f,"
                    + " \"overhead_percent\": %.2f}%n", guard.spec().architecture(), batch, iterations,
                    guard.detector().orElseThrow().classes().stream()
                            .flatMap(c -> c.candidateLayers().stream()).distinct().sorted().toList(),
                    p, g, g / p, 100 * (g / p - 1));
        }
    }

    private static double median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }
}
