package dev.backdoorguard.core.detect;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * cos(f, μ̂) of one sample's row f of a tap with a unit centroid μ̂, read from the tap's memory (a
 * native-order view of a float32 activation). Two kernels compute the same sums in a different order:
 * SIMD lanes ({@link VectorUnitCosine}) when the JVM was started with the {@code jdk.incubator.vector}
 * module ({@code guard serve} adds it; it ships with every JDK 17), and plain Java otherwise. The SIMD
 * kernel is about 4× faster on a 12,544-wide row (docs/BENCHMARKS.md §4), which is what lets the
 * serving path score every batch this way.
 */
final class UnitCosine {
    /** Whether the SIMD kernel is in use: the JVM resolved {@code jdk.incubator.vector}. */
    static final boolean VECTORIZED = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    /** Calls per width between the warm-up's timings. */
    private static final int WARM_UP_ROUND = 50;
    /** The warm-up's limit: past it the JIT finishes the kernel while requests are served. */
    private static final long WARM_UP_BUDGET_NANOS = 10_000_000_000L;

    private UnitCosine() {}

    /**
     * cos of the row at float index {@code offset} of {@code tap} with {@code unit} (over unit.length
     * values); 0 for a zero row (sklearn's convention), NaN for a row with a NaN. {@code scratch} (at
     * least unit.length long) is the plain kernel's copy of the row.
     */
    static double of(ByteBuffer tap, int offset, float[] unit, float[] scratch) {
        return VECTORIZED ? VectorUnitCosine.of(tap, offset, unit) : plain(tap, offset, unit, scratch);
    }

    /**
     * Runs the SIMD kernel on rows of ones of each width until the JIT has compiled it (a no-op for the
     * plain kernel). The Vector API is only fast once compiled: before that each call allocates its
     * vectors, about 1 ms on a 12,544-wide row, and the first few hundred calls of a fresh JVM took about
     * 2 s in all (docs/BENCHMARKS.md §4). Done at detector construction, that cost falls on the model's
     * load, not on its first requests. Stops when a round of calls at every width costs at most about
     * 1 µs plus 2 ns per value a call (the compiled kernel: about 0.2 ns per value), or after
     * {@code WARM_UP_BUDGET_NANOS}.
     */
    static void warmUp(int[] widths) {
        if (!VECTORIZED || widths.length == 0) {
            return;
        }
        int widest = Arrays.stream(widths).max().orElse(0);
        // Non-zero rows and centroids: on zeros the JIT would compile the division away (a zero row's
        // cosine is 0) and the first real row would send the kernel back to the interpreter.
        ByteBuffer ones = ByteBuffer.allocateDirect(widest * Float.BYTES).order(ByteOrder.nativeOrder());
        for (int k = 0; k < widest; k++) {
            ones.putFloat(k * Float.BYTES, 1f);
        }
        float[] unit = new float[widest];
        Arrays.fill(unit, 1f);
        long deadline = System.nanoTime() + WARM_UP_BUDGET_NANOS;
        boolean compiled = false;
        while (!compiled && System.nanoTime() < deadline) {
            compiled = true;
            for (int width : widths) {
                float[] centroid = width == widest ? unit : Arrays.copyOf(unit, width);
                long start = System.nanoTime();
                for (int call = 0; call < WARM_UP_ROUND; call++) {
                    VectorUnitCosine.of(ones, 0, centroid);
                }
                long perCall = (System.nanoTime() - start) / WARM_UP_ROUND;
                compiled &= perCall <= 1_000 + 2L * width;
            }
        }
    }

    /** The plain-Java kernel: one bulk copy of the row, then {@link #ofCopy}. */
    static double plain(ByteBuffer tap, int offset, float[] unit, float[] scratch) {
        tap.asFloatBuffer().get(offset, scratch, 0, unit.length);
        return ofCopy(scratch, unit);
    }

    /**
     * cos(f, μ̂) over the first unit.length values of f. Eight float lanes per sum: independent
     * additions the CPU can overlap, with float32 accumulation as the engine's GEMM does (measured about
     * 3× faster than four double accumulators at d = 12,544: the float-to-double conversions cost more
     * than the sums).
     */
    static double ofCopy(float[] f, float[] unit) {
        int length = unit.length;
        float dot0 = 0, dot1 = 0, dot2 = 0, dot3 = 0, dot4 = 0, dot5 = 0, dot6 = 0, dot7 = 0;
        float sq0 = 0, sq1 = 0, sq2 = 0, sq3 = 0, sq4 = 0, sq5 = 0, sq6 = 0, sq7 = 0;
        int k = 0;
        for (; k + 8 <= length; k += 8) {
            // lane j: the dot product and the sum of squares of the values at k + j
            float f0 = f[k], f1 = f[k + 1], f2 = f[k + 2], f3 = f[k + 3];
            float f4 = f[k + 4], f5 = f[k + 5], f6 = f[k + 6], f7 = f[k + 7];
            dot0 += f0 * unit[k];     sq0 += f0 * f0;
            dot1 += f1 * unit[k + 1]; sq1 += f1 * f1;
            dot2 += f2 * unit[k + 2]; sq2 += f2 * f2;
            dot3 += f3 * unit[k + 3]; sq3 += f3 * f3;
            dot4 += f4 * unit[k + 4]; sq4 += f4 * f4;
            dot5 += f5 * unit[k + 5]; sq5 += f5 * f5;
            dot6 += f6 * unit[k + 6]; sq6 += f6 * f6;
            dot7 += f7 * unit[k + 7]; sq7 += f7 * f7;
        }
        for (; k < length; k++) {
            dot0 += f[k] * unit[k];
            sq0 += f[k] * f[k];
        }
        double dot = (double) dot0 + dot1 + dot2 + dot3 + dot4 + dot5 + dot6 + dot7;
        double squares = (double) sq0 + sq1 + sq2 + sq3 + sq4 + sq5 + sq6 + sq7;
        return cosine(dot, squares);
    }

    /** dot / ‖f‖ for a unit centroid, with the zero-row convention. */
    static double cosine(double dot, double squares) {
        return squares == 0 ? 0 : dot / Math.sqrt(squares);
    }
}
