package dev.backdoorguard.core.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Both kernels against a double-precision reference: every lane count and tail, rows at an offset, zero and
 * NaN rows.
 */
class UnitCosineTest {
    /** Widths around the plain kernel's 8 lanes, the SIMD kernel's steps (2 × 4 to 2 × 16 lanes), cnn-small's tap. */
    private static final int[] WIDTHS = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 12_544};

    @Test
    void theSurefireJvmHasTheVectorModuleAsGuardServeDoes() {
        assertThat(UnitCosine.simd()).as("--add-modules jdk.incubator.vector in the test JVM").isTrue();
    }

    @Test
    void bothKernelsMatchADoubleReferenceOnARowAtAnOffset() {
        Random random = new Random(5);
        for (int d : WIDTHS) {
            float[] mu = unit(random, d);
            float[] row = new float[d];
            for (int k = 0; k < d; k++) {
                row[k] = random.nextFloat() - 0.25f;
            }
            // The row is the second of three in a native-order direct buffer, as a batch's tap is.
            ByteBuffer tap = tap(new float[d], row, new float[d]);
            double expected = reference(row, mu);
            float[] scratch = new float[d];
            assertThat(UnitCosine.plain(tap, d, mu, scratch)).as("plain, d = " + d).isCloseTo(expected, within(1e-5));
            assertThat(VectorUnitCosine.of(tap, d, mu)).as("SIMD, d = " + d).isCloseTo(expected, within(1e-5));
        }
    }

    @Test
    void aZeroRowHasCosineZeroAndANanRowNan() {
        Random random = new Random(6);
        for (int d : WIDTHS) {
            float[] mu = unit(random, d);
            float[] zero = new float[d];
            ByteBuffer zeros = tap(zero);
            assertThat(UnitCosine.plain(zeros, 0, mu, new float[d])).as("plain, d = " + d).isZero();
            assertThat(VectorUnitCosine.of(zeros, 0, mu)).as("SIMD, d = " + d).isZero();
            for (int at : new int[] {0, d - 1}) { // in the vector body (when d allows) and in the tail
                float[] withNan = new float[d];
                withNan[at] = Float.NaN;
                ByteBuffer nan = tap(withNan);
                assertThat(UnitCosine.plain(nan, 0, mu, new float[d])).as("plain, d = " + d).isNaN();
                assertThat(VectorUnitCosine.of(nan, 0, mu)).as("SIMD, d = " + d + ", NaN at " + at).isNaN();
            }
        }
    }

    /** The warm-up runs the kernel at each width (a tail-only one among them, and none) and leaves it right. */
    @Test
    void theWarmUpLeavesTheKernelsResultsAsTheyWere() {
        Random random = new Random(7);
        float[] mu = unit(random, 100);
        float[] row = new float[100];
        for (int k = 0; k < row.length; k++) {
            row[k] = random.nextFloat();
        }
        ByteBuffer tap = tap(row);
        UnitCosine.warmUp(new int[] {10, 100, 12_544});
        UnitCosine.warmUp(new int[0]);
        assertThat(VectorUnitCosine.of(tap, 0, mu)).isCloseTo(reference(row, mu), within(1e-5));
    }

    private static float[] unit(Random random, int d) {
        float[] mu = new float[d];
        double norm = 0;
        for (int k = 0; k < d; k++) {
            mu[k] = (float) random.nextGaussian();
            norm += (double) mu[k] * mu[k];
        }
        for (int k = 0; k < d; k++) {
            mu[k] = (float) (mu[k] / Math.sqrt(norm));
        }
        return mu;
    }

    private static double reference(float[] f, float[] mu) {
        double dot = 0;
        double squares = 0;
        for (int k = 0; k < f.length; k++) {
            dot += (double) f[k] * mu[k];
            squares += (double) f[k] * f[k];
        }
        return dot / Math.sqrt(squares);
    }

    private static ByteBuffer tap(float[]... rows) {
        int values = 0;
        for (float[] row : rows) {
            values += row.length;
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(values * Float.BYTES).order(ByteOrder.nativeOrder());
        int at = 0;
        for (float[] row : rows) {
            buffer.asFloatBuffer().put(at, row);
            at += row.length;
        }
        return buffer;
    }
}
