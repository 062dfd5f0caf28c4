package dev.backdoorguard.core.bundle;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Float16Test {

    @Test
    void everyHalfSurvivesTheRoundTrip() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Float16.toFloat((short) h);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(Float16.toFloat(Float16.fromFloat(f)))).as("NaN %04x", h).isTrue();
            } else {
                assertThat(Float16.fromFloat(f) & 0xffff).as("half %04x", h).isEqualTo(h);
            }
        }
    }

    @Test
    void roundsToNearestWithTiesToEven() {
        assertThat(bits(1.0f)).isEqualTo(0x3c00);
        assertThat(bits(-2.0f)).isEqualTo(0xc000);
        assertThat(bits(65504f)).isEqualTo(0x7bff);          // largest half
        assertThat(bits(65519.99f)).isEqualTo(0x7bff);
        assertThat(bits(65520f)).isEqualTo(0x7c00);          // rounds past the largest: infinity
        assertThat(bits(1f + 0x1p-11f)).isEqualTo(0x3c00);   // tie between 1 and 1+2^-10: even (1)
        assertThat(bits(1f + 3 * 0x1p-11f)).isEqualTo(0x3c02); // tie between 1+2^-10 and 1+2^-9: even
        assertThat(bits(1f + 0x1p-11f + 0x1p-20f)).isEqualTo(0x3c01); // just above the tie: up
        assertThat(bits(0x1p-24f)).isEqualTo(0x0001);        // smallest subnormal
        assertThat(bits(0x1p-25f)).isEqualTo(0x0000);        // tie between 0 and the smallest: even (0)
        assertThat(bits(1.5f * 0x1p-25f)).isEqualTo(0x0001);
        assertThat(bits(0x1p-14f - 0x1p-26f)).isEqualTo(0x0400); // rounds up into the smallest normal
        assertThat(bits(Float.NEGATIVE_INFINITY)).isEqualTo(0xfc00);
        assertThat(bits(-0f)).isEqualTo(0x8000);
    }

    @Test
    void safetensorsStoresF16AsHalfTheBytesAndReadsBackTheRoundedValues(@TempDir Path tmp) throws Exception {
        float[] values = {0.1f, -3.14159f, 1e-6f, 1000.5f, 0f};
        Path f32 = tmp.resolve("a.safetensors");
        Path f16 = tmp.resolve("b.safetensors");
        Map<String, HostTensor> tensors = Map.of("t", HostTensor.ofFloats("t", new long[] {5}, values));
        SafeTensors.write(f32, tensors, Map.of());
        SafeTensors.write(f16, tensors, Map.of(), FloatFormat.F16);
        float[] back = SafeTensors.read(f16).get("t").floats();
        for (int i = 0; i < values.length; i++) {
            assertThat(back[i]).isEqualTo(FloatFormat.F16.round(values[i]));
            assertThat((double) back[i]).isCloseTo(values[i], org.assertj.core.data.Offset.offset(Math.abs(values[i]) * 1e-3 + 1e-7));
        }
        assertThat(SafeTensors.read(f32).get("t").floats()).containsExactly(values);
        assertThat(java.nio.file.Files.size(f32) - java.nio.file.Files.size(f16)).isEqualTo(10);
    }

    private static int bits(float f) {
        return Float16.fromFloat(f) & 0xffff;
    }
}
