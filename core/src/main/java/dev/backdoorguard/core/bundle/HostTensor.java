package dev.backdoorguard.core.bundle;

import java.util.Arrays;

/**
 * A named tensor held in Java memory: the exchange format between files and the engine, so that no
 * engine array ever crosses the core facade. Exactly one of {@code floats} and {@code longs} is set.
 */
public record HostTensor(String name, long[] shape, float[] floats, long[] longs) {
    public HostTensor {
        if ((floats == null) == (longs == null)) {
            throw new IllegalArgumentException("exactly one of floats and longs must be set for " + name);
        }
        long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        int size = floats != null ? floats.length : longs.length;
        if (count != size) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " needs " + count
                    + " values, got " + size);
        }
    }

    public static HostTensor ofFloats(String name, long[] shape, float[] values) {
        return new HostTensor(name, shape, values, null);
    }

    public static HostTensor ofLongs(String name, long[] shape, long[] values) {
        return new HostTensor(name, shape, null, values);
    }

    public boolean isInteger() {
        return longs != null;
    }

    public int size() {
        return floats != null ? floats.length : longs.length;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
