package dev.backdoorguard.core.detect;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Engine-side batched scoring (spec §9.1). Per used tap l, a matrix of unit-normalised centroids
 * Mᵀ_l [d_l, K'] (a zero column for classes whose S_c lacks l, and for the padding up to K' =
 * {@link #paddedClasses}) and a weight table W [K', |U|] are
 * created once, in the model's manager; a batch then costs one [N, d_l]·[d_l, K'] product and a row
 * norm per tap, and nothing but the batch's own scope is allocated.
 */
public final class CriticalLayerDetector {
    private final DetectorCalibration calibration;
    private final int[] used;
    private final List<String> usedNames;
    private final NDArray[] unitCentroidsT;
    private final NDArray weights;

    /** Copies the centroids into {@code modelManager}; they live (and are freed) with it. */
    public CriticalLayerDetector(DetectorCalibration calibration, NDManager modelManager) {
        this.calibration = calibration;
        this.used = calibration.usedTaps();
        int k = paddedClasses(calibration.numClasses());
        this.unitCentroidsT = new NDArray[used.length];
        float[] w = new float[k * used.length];
        Map<Integer, Integer> slot = new HashMap<>();
        List<String> names = new ArrayList<>();
        for (int u = 0; u < used.length; u++) {
            names.add(calibration.taps().get(used[u]));
            slot.put(used[u], u);
        }
        this.usedNames = List.copyOf(names);  // immutable: handed out on every batch without a copy
        float[][] matrices = new float[used.length][];
        for (int u = 0; u < used.length; u++) {
            matrices[u] = new float[calibration.dims()[used[u]] * k];
        }
        for (ClassStatistics s : calibration.classes()) {
            for (int j = 0; j < s.candidates().length; j++) {
                int u = slot.get(s.candidates()[j]);
                w[s.classIndex() * used.length + u] = (float) s.weights()[j];
                float[] mu = s.centroids()[j];
                double norm = 0;
                for (float v : mu) {
                    norm += (double) v * v;
                }
                norm = Math.sqrt(norm);
                // A zero centroid keeps a zero column: cos := 0, as sklearn's convention.
                for (int d = 0; d < mu.length && norm > 0; d++) {
                    matrices[u][d * k + s.classIndex()] = (float) (mu[d] / norm);
                }
            }
        }
        for (int u = 0; u < used.length; u++) {
            unitCentroidsT[u] = modelManager.create(matrices[u], new Shape(calibration.dims()[used[u]], k));
        }
        this.weights = modelManager.create(w, new Shape(k, used.length));
    }

    public DetectorCalibration calibration() {
        return calibration;
    }

    /** The tap names the score needs (the union U of the S_c), in forward order. */
    public List<String> taps() {
        return usedNames;
    }

    /**
     * Scores a batch from the tapped activations of one forward pass.
     *
     * @param tapped    activations by tap name, each [N, ...] (flattened here per sample)
     * @param predicted ŷ, INT64 [N]
     * @return the scores s [N] and the cosines to the ŷ centroids [N, |U|] (0 for taps outside S_ŷ),
     *     attached to {@code predicted}'s manager
     */
    public Scores score(Map<String, NDArray> tapped, NDArray predicted) {
        int k = paddedClasses(calibration.numClasses());
        int n = (int) predicted.getShape().get(0);
        NDList dots = new NDList(used.length);
        NDList norms = new NDList(used.length);
        for (int u = 0; u < used.length; u++) {
            NDArray f = tapped.get(usedNames.get(u));
            if (f == null) {
                throw new IllegalArgumentException("the forward pass did not record tap '" + usedNames.get(u) + "'");
            }
            NDArray flat = f.reshape(n, -1);
            dots.add(flat.dot(unitCentroidsT[u])); // [N, K]
            norms.add(flat.norm(new int[] {1}, true)); // [N, 1]
        }
        // Few engine calls per batch: the fixed cost per call dominates small batches.
        NDArray oneHot = predicted.oneHot(k).reshape(n, 1, k);
        NDArray atPredicted = NDArrays.concat(dots, 1).reshape(n, used.length, k).mul(oneHot).sum(new int[] {2});
        // A zero feature row has a zero dot product, and a non-zero norm is at least MIN_NORMAL for any
        // realistic activation, so this keeps cos := 0 for zero rows (sklearn) and is exact otherwise.
        NDArray cosines = atPredicted.div(NDArrays.concat(norms, 1).maximum(Float.MIN_NORMAL)); // [N, |U|]
        NDArray s = cosines.mul(oneHot.reshape(n, k).dot(weights)).sum(new int[] {1});
        return new Scores(s, cosines);
    }

    /**
     * The class count rounded up to a multiple of 16, the width of the centroid matrices: libtorch's
     * CPU GEMM for [N, d]·[d, K] runs about 2.3× faster at K = 16 than at K = 10 (measured with
     * d = 12,544, N = 64, one thread: 0.33 ms against 0.78 ms), so the extra zero columns pay for
     * themselves. Their products are 0 and the one-hot of ŷ never selects them.
     */
    static int paddedClasses(int numClasses) {
        return (numClasses + 15) / 16 * 16;
    }

    /** The engine-side result of {@link #score}: s [N] and per-tap cosines [N, |U|]. */
    public record Scores(NDArray score, NDArray cosines) {}

    /** The used-tap slot of tap index {@code l}, or -1. */
    public int slotOf(int l) {
        for (int u = 0; u < used.length; u++) {
            if (used[u] == l) {
                return u;
            }
        }
        return -1;
    }
}
