package dev.backdoorguard.offline.purify.dhbe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.Seeds;
import java.util.SplittableRandom;

/**
 * The random draws of one step: the generators' Gaussian noise and the patch location, derived
 * from (seed, iteration, step) alone. Nothing but the iteration has to be saved for a resumed run to
 * draw exactly what the uninterrupted one drew, and the draws do not touch DJL's global engine RNG.
 * Steps 0..4 are the student steps, 5 the generator step, 6 the patch-generator step.
 */
final class StepNoise {
    static final int GENERATOR_STEP = DhbeConfig.STUDENT_STEPS;
    static final int PATCH_STEP = DhbeConfig.STUDENT_STEPS + 1;

    private final SplittableRandom random;

    StepNoise(long seed, int iteration, int step) {
        this(seed, "dhbe/" + iteration + "/" + step);
    }

    private StepNoise(long seed, String stream) {
        this.random = new SplittableRandom(Seeds.derive(seed, stream));
    }

    /** The draws of step {@code step} of the generator warm-up (a stream of its own). */
    static StepNoise warmup(long seed, int step) {
        return new StepNoise(seed, "dhbe-warmup/" + step);
    }

    /** A standard-normal [rows, cols] array in {@code manager}. */
    NDArray gaussian(NDManager manager, int rows, int cols) {
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return manager.create(values, new Shape(rows, cols));
    }

    /** A uniform offset in {0, …, bound}. */
    int offset(int bound) {
        return random.nextInt(bound + 1);
    }

    /**
     * Zero-pads patches [B, C, P, P] to [B, C, size, size] with the patch at rows [top, top+P) and
     * columns [left, left+P): concatenation of zero blocks, which is differentiable (no in-place set).
     */
    static NDArray pad(NDArray patch, int size, int top, int left) {
        Shape s = patch.getShape();
        long b = s.get(0);
        long c = s.get(1);
        int p = (int) s.get(2);
        if (s.get(3) != p || p > size || top < 0 || left < 0 || top + p > size || left + p > size) {
            throw new IllegalArgumentException("patch " + s + " does not fit at (" + top + ", " + left + ") in " + size);
        }
        NDManager m = patch.getManager();
        NDList row = new NDList();
        if (left > 0) {
            row.add(m.zeros(new Shape(b, c, p, left)));
        }
        row.add(patch);
        if (size - p - left > 0) {
            row.add(m.zeros(new Shape(b, c, p, size - p - left)));
        }
        NDArray band = row.size() == 1 ? patch : NDArrays.concat(row, 3);
        NDList column = new NDList();
        if (top > 0) {
            column.add(m.zeros(new Shape(b, c, top, size)));
        }
        column.add(band);
        if (size - p - top > 0) {
            column.add(m.zeros(new Shape(b, c, size - p - top, size)));
        }
        return column.size() == 1 ? band : NDArrays.concat(column, 2);
    }
}
