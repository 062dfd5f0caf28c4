package dev.backdoorguard.core.detect;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * cos(f, μ̂) of one sample's row f of a tap with a unit centroid μ̂, read from the tap's memory (a view of
 * a float32 activation). Two kernels compute the same sums in a different order, so their results agree
 * to float rounding: SIMD lanes ({@link VectorUnitCosine}) when the JVM was started with the
 * {@code jdk.incubator.vector} module ({@code guard serve} adds it) and the kernel links against it, and
 * plain Java otherwise. The SIMD kernel is about 4× faster on a 12,544-wide row (docs/BENCHMARKS.md §4),
 * which is what lets the serving path score every batch on the heap.
 */
final class UnitCosine {
    private static final Logger logger = LoggerFactory.getLogger(UnitCosine.class);
    /** Calls per width between the warm-up's timings. */
    private static final int WARM_UP_ROUND = 50;
    /** The warm-up's limit: a kernel not compiled by then is taken to run interpreted for good. */
    private static final long WARM_UP_BUDGET_NANOS = 5_000_000_000L;
    /** The widths warmed up in this process: each costs the warm-up once. */
    private static final Set<Integer> WARMED_WIDTHS = ConcurrentHashMap.newKeySet();
    /** Whether the SIMD kernel is used: it can run here, and no warm-up found it stuck at interpreted speed. */
    private static volatile boolean simd = simdRuns();

    private UnitCosine() {}

    /** Whether scoring uses the SIMD kernel; read once per batch, since a warm-up may turn it off. */
    static boolean simd() {
        return simd;
    }

    /**
     * The module is resolved and the kernel's calls link: the incubating API changed after JDK 18
     * ({@code fromByteBuffer} became {@code fromMemorySegment}), and a JDK without the method must fall
     * back rather than fail each model's load. The probe row is wider than two vectors of any CPU, so the
     * loads run.
     */
    private static boolean simdRuns() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return false;
        }
        try {
            ByteBuffer ones = onesRow(64);
            float[] unit = new float[64];
            Arrays.fill(unit, 0.125f);
            VectorUnitCosine.of(ones, 0, unit);
            return true;
        } catch (LinkageError | RuntimeException e) {
            logger.warn("jdk.incubator.vector is present but the detector's SIMD kernel cannot use it ({});"
                    + " scoring with the plain-Java kernel", e.toString());
            return false;
        }
    }

    /**
     * Runs the SIMD kernel on rows of ones of each width not warmed up yet, until the JIT has compiled it.
     * The Vector API is only fast once compiled: before that each call allocates its vectors, up to tens
     * of ms a call on a 12,544-wide row, and the first 1,000 calls of a fresh JVM took about 0.4 s in all
     * (docs/BENCHMARKS.md §4). Done as a detector is built, that cost falls on the first model's load, not
     * on its first requests. Stops when a round of calls at every width costs at most 1 µs plus 2 ns per
     * value a call (compiled: 0.2–0.6 ns per value). A kernel still slower after
     * {@link #WARM_UP_BUDGET_NANOS} (a JVM without the C2 compiler, say) is turned off for the process.
     */
    static void warmUp(int[] widths) {
        int[] fresh = Arrays.stream(widths).distinct().filter(w -> !WARMED_WIDTHS.contains(w)).toArray();
        if (!simd || fresh.length == 0) {
            return;
        }
        int widest = Arrays.stream(fresh).max().getAsInt();
        // Non-zero rows and centroids: on zeros the JIT would compile the division away (a zero row's
        // cosine is 0) and the first real row would send the kernel back to the interpreter.
        ByteBuffer ones = onesRow(widest);
        float[] unit = new float[widest];
        Arrays.fill(unit, 1f);
        long deadline = System.nanoTime() + WARM_UP_BUDGET_NANOS;
        boolean compiled = false;
        while (!compiled && System.nanoTime() - deadline < 0) {
            compiled = true;
            for (int width : fresh) {
                float[] centroid = width == widest ? unit : Arrays.copyOf(unit, width);
                long start = System.nanoTime();
                for (int call = 0; call < WARM_UP_ROUND; call++) {
                    VectorUnitCosine.of(ones, 0, centroid);
                }
                long perCall = (System.nanoTime() - start) / WARM_UP_ROUND;
                compiled &= perCall <= 1_000 + 2L * width;
            }
        }
        if (compiled) {
            Arrays.stream(fresh).forEach(WARMED_WIDTHS::add);
        } else {
            simd = false;
            logger.warn("the detector's SIMD kernel was still slow after a {} s warm-up (is the JIT's C2 compiler"
                    + " off?); scoring with the plain-Java kernel", WARM_UP_BUDGET_NANOS / 1_000_000_000L);
        }
    }

    private static ByteBuffer onesRow(int width) {
        ByteBuffer row = ByteBuffer.allocateDirect(width * Float.BYTES).order(ByteOrder.nativeOrder());
        for (int k = 0; k < width; k++) {
            row.putFloat(k * Float.BYTES, 1f);
        }
        return row;
    }

    /** The plain-Java kernel: one bulk copy of the row into {@code scratch}, then {@link #ofCopy}. */
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
