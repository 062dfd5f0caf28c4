package dev.backdoorguard.core.trigger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.nio.file.Path;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The triggers against the PyTorch reference (tools/pyguard/triggers.py), so users can reproduce them. */
class TriggerParityTest {
    private static Map<String, HostTensor> fixture() throws Exception {
        return SafeTensors.read(Path.of("src/test/resources/parity/triggers/triggers.safetensors"));
    }

    private static void assertTriggered(Trigger trigger, HostTensor input, HostTensor expected) {
        int imageSize = (int) (input.size() / input.shape()[0]);
        float[] actual = trigger.applied(input.floats(), 0, (int) input.shape()[0], imageSize);
        for (int i = 0; i < actual.length; i++) {
            assertThat(actual[i]).as(trigger.name() + "[" + i + "]").isCloseTo(expected.floats()[i], Offset.offset(1e-6f));
        }
    }

    @Test
    void badnetsBlendedAndSigMatchTheReference() throws Exception {
        Map<String, HostTensor> f = fixture();
        int[] shape = {1, 28, 28};
        assertTriggered(Triggers.create("badnets", 0, null, shape), f.get("input"), f.get("badnets"));
        assertTriggered(Triggers.create("blended", 0, null, shape), f.get("input"), f.get("blended"));
        assertTriggered(Triggers.create("sig", 0, null, shape), f.get("input"), f.get("sig"));
        assertTriggered(Triggers.create("blended", 5, null, new int[] {3, 8, 8}), f.get("input_rgb"),
                f.get("blended_rgb_seed5"));
    }

    @Test
    void splitMix64DoublesMatchTheReference() throws Exception {
        Map<String, HostTensor> f = fixture();
        for (long seed : new long[] {0, 42}) {
            SplitMix64 r = new SplitMix64(seed);
            float[] expected = f.get("splitmix64_seed" + seed).floats(); // F64 read back as float
            for (float e : expected) {
                assertThat((float) r.nextDouble()).isEqualTo(e);
            }
        }
    }
}
