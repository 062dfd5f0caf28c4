package dev.backdoorguard.core.detect;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link UnitCosine}'s SIMD kernel (JDK 17's incubating Vector API). Called only when the JVM resolved
 * {@code jdk.incubator.vector} and the kernel linked ({@link UnitCosine#simd()}); otherwise it would fail.
 */
final class VectorUnitCosine {
    private static final VectorSpecies<Float> LANES = FloatVector.SPECIES_PREFERRED;

    private VectorUnitCosine() {}

    /**
     * cos of the row at float index {@code offset} of {@code tap} with {@code unit} (over unit.length
     * values); 0 for a zero row (sklearn's convention), NaN for a row with a NaN. The row is read in place,
     * two vectors per step for each sum.
     */
    static double of(ByteBuffer tap, int offset, float[] unit) {
        int length = unit.length;
        int width = LANES.length();
        ByteOrder order = tap.order();  // as the tail's getFloat reads it
        // Byte offsets fit an int: the row lies inside the buffer, whose capacity is an int.
        int base = offset * Float.BYTES;
        FloatVector dotA = FloatVector.zero(LANES);
        FloatVector dotB = FloatVector.zero(LANES);
        FloatVector sqA = FloatVector.zero(LANES);
        FloatVector sqB = FloatVector.zero(LANES);
        int k = 0;
        for (; k + 2 * width <= length; k += 2 * width) {
            FloatVector a = FloatVector.fromByteBuffer(LANES, tap, base + k * Float.BYTES, order);
            FloatVector b = FloatVector.fromByteBuffer(LANES, tap, base + (k + width) * Float.BYTES, order);
            dotA = a.fma(FloatVector.fromArray(LANES, unit, k), dotA);
            dotB = b.fma(FloatVector.fromArray(LANES, unit, k + width), dotB);
            sqA = a.fma(a, sqA);
            sqB = b.fma(b, sqB);
        }
        double dot = dotA.add(dotB).reduceLanes(VectorOperators.ADD);
        double squares = sqA.add(sqB).reduceLanes(VectorOperators.ADD);
        for (; k < length; k++) {
            float f = tap.getFloat(base + k * Float.BYTES);
            dot += f * unit[k];
            squares += f * f;
        }
        return UnitCosine.cosine(dot, squares);
    }
}
