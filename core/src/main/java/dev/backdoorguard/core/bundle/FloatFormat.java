package dev.backdoorguard.core.bundle;

/**
 * How floating-point tensors are stored in a safetensors file: F32 (the default, exact) or F16
 * (half the size; values rounded to the nearest half, ties to even).
 */
public enum FloatFormat {
    F32(4),
    F16(2);

    private final int bytes;

    FloatFormat(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per value. */
    public int bytes() {
        return bytes;
    }

    /** {@code value} as it reads back after being stored in this format. */
    public float round(float value) {
        return this == F32 ? value : Float16.toFloat(Float16.fromFloat(value));
    }

    /** Parses {@code f32} or {@code f16} (any case), naming the accepted values otherwise. */
    public static FloatFormat parse(String text) {
        for (FloatFormat f : values()) {
            if (f.name().equalsIgnoreCase(text)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown float format '" + text + "' (expected F32 or F16)");
    }
}
