package dev.backdoorguard.core.detect;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.arch.TapRecorder;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Batched scoring inside the forward pass (spec §9.1). Per used tap l, a matrix of unit-normalised
 * centroids Mᵀ_l [d_l, K'] (a zero column for classes whose S_c lacks l, and for the padding up to
 * K' = {@link #paddedClasses}) is created once, in the model's manager. A batch's {@link Batch} is
 * the forward pass's {@link TapRecorder}: as each used tap F_l [N, d_l] is produced it computes
 * F_l·Mᵀ_l [N, K'] and F_l's row norms, while the activation is still in the CPU cache; the scores
 * are then finished on the heap from those small arrays.
 *
 * <p>Deviation from the spec's recommended layout, which finishes on the engine and copies only the
 * [N] scores: here the [N, |U|·K'] dot products and [N, |U|] norms (a few kB) are copied instead. The
 * engine-side finish was about a dozen more engine calls per batch (one-hot, masks, sums, a
 * division), whose fixed cost was most of the detector's overhead on small batches; see
 * docs/BENCHMARKS.md §4.
 *
 * <p>Small batches, and every batch when the SIMD kernel is in use on the CPU, are scored on the heap
 * instead ({@link #scoresOnHeap}): each used tap is kept as a view
 * of its memory (no libtorch operation and no copy for the contiguous activations the architectures
 * produce; DJL copies a non-contiguous one), and once ŷ is known only the one centroid of ŷ per tap is
 * read, by {@link UnitCosine}. At batch 1 the engine path's ~10 engine calls and its [1, d]·[d, K']
 * product (which reads all K' centroids) cost more than the whole heap pass; with the SIMD kernel the
 * heap pass is also the cheaper one at batch 64 (docs/BENCHMARKS.md §4).
 */
public final class CriticalLayerDetector {
    /**
     * The largest batch scored on the heap by the plain-Java kernel. Measured on cnn-small (two 12,544-wide
     * taps) with one engine thread, docs/BENCHMARKS.md §4: at 16 and below the heap pass was cheaper than
     * the engine calls, at 64 the engine's product of the whole batch with the centroid matrix was as cheap
     * or cheaper (the per-image costs cross near 23). The SIMD kernel, about 4× faster, scores every batch
     * on the heap.
     */
    public static final int HEAP_SCORING_MAX_BATCH = 16;

    private final DetectorCalibration calibration;
    private final int[] used;
    private final List<String> usedNames;
    private final Map<String, Integer> slotByName;
    private final NDArray[] unitCentroidsT;
    /** unitCentroids[u][c]: class c's unit centroid at used tap u, or null when u is outside S_c. */
    private final float[][][] unitCentroids;
    /** candidateSlots[c][j]: the used-tap slot of class c's candidate j. */
    private final int[][] candidateSlots;
    /** The widest used tap: the heap path's scratch row. */
    private final int widestTap;
    /** Whether the model runs on a GPU, whose taps the heap path would copy to the host. */
    private final boolean onGpu;

    /** Copies the centroids into {@code modelManager}; they live (and are freed) with it. */
    public CriticalLayerDetector(DetectorCalibration calibration, NDManager modelManager) {
        this.calibration = calibration;
        this.used = calibration.usedTaps();
        int k = paddedClasses(calibration.numClasses());
        this.unitCentroidsT = new NDArray[used.length];
        this.unitCentroids = new float[used.length][calibration.numClasses()][];
        this.candidateSlots = new int[calibration.numClasses()][];
        int[] widths = Arrays.stream(used).map(l -> calibration.dims()[l]).toArray();
        this.widestTap = Arrays.stream(widths).max().orElse(0);
        this.onGpu = modelManager.getDevice().isGpu();
        Map<Integer, Integer> slot = new HashMap<>();
        Map<String, Integer> byName = new HashMap<>();
        List<String> names = new ArrayList<>();
        for (int u = 0; u < used.length; u++) {
            String name = calibration.taps().get(used[u]);
            names.add(name);
            slot.put(used[u], u);
            byName.put(name, u);
        }
        this.usedNames = List.copyOf(names);  // immutable: handed out without a copy
        this.slotByName = Map.copyOf(byName);
        float[][] matrices = new float[used.length][];
        for (int u = 0; u < used.length; u++) {
            matrices[u] = new float[calibration.dims()[used[u]] * k];
        }
        for (ClassStatistics s : calibration.classes()) {
            candidateSlots[s.classIndex()] = new int[s.candidates().length];
            for (int j = 0; j < s.candidates().length; j++) {
                int u = slot.get(s.candidates()[j]);
                candidateSlots[s.classIndex()][j] = u;
                float[] mu = s.centroids()[j];
                double norm = 0;
                for (float v : mu) {
                    norm += (double) v * v;
                }
                norm = Math.sqrt(norm);
                // A zero centroid keeps a zero column: cos := 0, as sklearn's convention.
                float[] unit = new float[mu.length];
                for (int d = 0; d < mu.length && norm > 0; d++) {
                    unit[d] = (float) (mu[d] / norm);
                    matrices[u][d * k + s.classIndex()] = unit[d];
                }
                unitCentroids[u][s.classIndex()] = unit;
            }
        }
        for (int u = 0; u < used.length; u++) {
            unitCentroidsT[u] = modelManager.create(matrices[u], new Shape(calibration.dims()[used[u]], k));
        }
        UnitCosine.warmUp(widths);  // once per width and process
    }

    /** Whether the heap path scores with SIMD lanes (the JVM has {@code jdk.incubator.vector}), for logs. */
    public static boolean simdScoring() {
        return UnitCosine.simd();
    }

    public DetectorCalibration calibration() {
        return calibration;
    }

    /** The tap names the score needs (the union U of the S_c), in forward order. */
    public List<String> taps() {
        return usedNames;
    }

    /**
     * Starts scoring a batch of {@code n} samples: pass the result to the forward pass as its tap
     * recorder, then call {@link Batch#finish}. It holds arrays of the forward pass's scope and must
     * not outlive it.
     */
    public Batch newBatch(int n) {
        return new Batch(n, scoresOnHeap(n, UnitCosine.simd(), onGpu));
    }

    /**
     * Whether a batch of {@code n} is scored on the heap: small ones always, every one with the SIMD
     * kernel on the CPU (on a GPU the heap path copies the taps to the host; not measured).
     */
    static boolean scoresOnHeap(int n, boolean simd, boolean onGpu) {
        return n <= HEAP_SCORING_MAX_BATCH || (simd && !onGpu);
    }

    /** As {@link #newBatch(int)}, with the path forced: for tests that compare the two. */
    Batch newBatch(int n, boolean onHeap) {
        return new Batch(n, onHeap);
    }

    /**
     * The class count rounded up to a multiple of 16, the width of the centroid matrices: libtorch's
     * CPU GEMM for [N, d]·[d, K] runs about 2.3× faster at K = 16 than at K = 10 (measured with
     * d = 12,544, N = 64, one thread: 0.30 ms against 0.77 ms), so the extra zero columns pay for
     * themselves. Their products are 0 and ŷ never selects them. (The faster [K, d]·[d, N] form would
     * put the product in the model's manager: the result of an engine call belongs to its first
     * operand's manager.)
     */
    static int paddedClasses(int numClasses) {
        return (numClasses + 15) / 16 * 16;
    }

    /** The used-tap slot of tap index {@code l}, or -1. */
    public int slotOf(int l) {
        for (int u = 0; u < used.length; u++) {
            if (used[u] == l) {
                return u;
            }
        }
        return -1;
    }

    /**
     * The scores of a batch, on the heap: s [N] and the cosines to the ŷ centroids, row-major
     * [N, |U|] (0 for taps outside S_ŷ and for zero feature rows).
     */
    public record Scores(float[] scores, float[] cosines, int usedTaps) {
        public float cosine(int sample, int slot) {
            return cosines[sample * usedTaps + slot];
        }
    }

    /**
     * One batch's scoring: records each used tap as the forward pass produces it, as its products with
     * the centroids (engine path) or as a view of its memory (heap path, {@link #scoresOnHeap}).
     */
    public final class Batch implements TapRecorder {
        private final int n;
        private final boolean onHeap;
        private final NDArray[] dots = new NDArray[used.length];
        private final NDArray[] norms = new NDArray[used.length];
        /** The heap path's taps: views of the activations' memory, valid while the forward pass's scope is open. */
        private final ByteBuffer[] features = new ByteBuffer[used.length];

        private Batch(int n, boolean onHeap) {
            this.n = n;
            this.onHeap = onHeap;
        }

        /** Whether this batch is scored on the heap ({@link #scoresOnHeap}) or by engine products. */
        boolean onHeap() {
            return onHeap;
        }

        @Override
        public void offer(String tap, NDArray activation) {
            Integer u = slotByName.get(tap);
            if (u == null) {
                return;
            }
            if (onHeap) {
                if (activation.getDataType() != DataType.FLOAT32) {
                    // The view reads raw bytes as floats: any other type would be read as garbage.
                    throw new IllegalArgumentException("tap '" + tap + "' is " + activation.getDataType()
                            + ", expected float32");
                }
                long expected = (long) n * calibration.dims()[used[u]];
                if (activation.size() != expected) {
                    throw new IllegalArgumentException("tap '" + tap + "' has " + activation.size()
                            + " values, expected " + expected + " (" + n + " samples)");
                }
                // No copy: the forward pass never writes an offered activation again (TapRecorder#offer).
                features[u] = activation.toByteBuffer(true);
                return;
            }
            NDArray flat = activation.reshape(n, -1);
            dots[u] = flat.dot(unitCentroidsT[u]); // [N, K'], in the batch's scope
            norms[u] = flat.norm(new int[] {1}, true); // [N, 1]
        }

        /** The scores of the batch given ŷ [N]; every used tap must have been offered. */
        public Scores finish(int[] predicted) {
            if (predicted.length != n) {
                throw new IllegalArgumentException("expected " + n + " predictions, got " + predicted.length);
            }
            for (int u = 0; u < used.length; u++) {
                if (dots[u] == null && features[u] == null) {
                    throw new IllegalArgumentException("the forward pass did not offer tap '" + usedNames.get(u) + "'");
                }
            }
            checkClasses(predicted);
            return onHeap ? finishOnHeap(predicted) : finishOnEngine(predicted);
        }

        private Scores finishOnEngine(int[] predicted) {
            int k = paddedClasses(calibration.numClasses());
            int taps = used.length;
            // One copy to the heap, row i = [its |U|·K' dot products, its |U| norms]; the rest is a few
            // multiply-adds per sample.
            NDList parts = new NDList(2 * taps);
            parts.addAll(Arrays.asList(dots));
            parts.addAll(Arrays.asList(norms));
            float[] row = NDArrays.concat(parts, 1).toFloatArray();
            int width = taps * k + taps;
            float[] scores = new float[n];
            float[] cosines = new float[n * taps];
            double[] cos = new double[taps];
            // Scratch for one sample's candidate cosines (ClassStatistics.score reads only its first |S_c|).
            double[] candidateCosines = new double[taps];
            for (int i = 0; i < n; i++) {
                int c = predicted[i];
                for (int u = 0; u < taps; u++) {
                    double rowNorm = row[i * width + taps * k + u];
                    // cos := 0 for a zero feature row (sklearn's convention); a NaN row stays NaN. A tap
                    // outside S_c has a zero column: 0 there, as on the heap path, even for a NaN row.
                    cos[u] = rowNorm == 0 || unitCentroids[u][c] == null ? 0 : row[i * width + u * k + c] / rowNorm;
                    cosines[i * taps + u] = (float) cos[u];
                }
                scores[i] = score(c, cos, candidateCosines);
            }
            return new Scores(scores, cosines, taps);
        }

        private Scores finishOnHeap(int[] predicted) {
            int taps = used.length;
            float[] scores = new float[n];
            float[] cosines = new float[n * taps];
            double[] cos = new double[taps];
            // Scratch for one sample's candidate cosines (ClassStatistics.score reads only its first |S_c|).
            double[] candidateCosines = new double[taps];
            boolean simd = UnitCosine.simd();  // once: a warm-up elsewhere may turn it off meanwhile
            // The plain kernel's copy of one row; the SIMD kernel reads the tap in place.
            float[] rowCopy = simd ? null : new float[widestTap];
            for (int i = 0; i < n; i++) {
                int c = predicted[i];
                for (int u = 0; u < taps; u++) {
                    float[] mu = unitCentroids[u][c];
                    if (mu == null) {
                        cos[u] = 0; // the engine path's zero column
                    } else {
                        int offset = i * mu.length;
                        cos[u] = simd ? VectorUnitCosine.of(features[u], offset, mu)
                                : UnitCosine.plain(features[u], offset, mu, rowCopy);
                    }
                    cosines[i * taps + u] = (float) cos[u];
                }
                scores[i] = score(c, cos, candidateCosines);
            }
            return new Scores(scores, cosines, taps);
        }

        private void checkClasses(int[] predicted) {
            for (int c : predicted) {
                if (c < 0 || c >= calibration.numClasses()) {
                    throw new IllegalArgumentException("predicted class " + c + " is outside [0, "
                            + calibration.numClasses() + ")");
                }
            }
        }

        /** Class c's score from the cosines of every used tap (candidateCosines is scratch). */
        private float score(int c, double[] cos, double[] candidateCosines) {
            int[] slots = candidateSlots[c];
            for (int j = 0; j < slots.length; j++) {
                candidateCosines[j] = cos[slots[j]];
            }
            return (float) calibration.classes().get(c).score(candidateCosines);
        }
    }
}
