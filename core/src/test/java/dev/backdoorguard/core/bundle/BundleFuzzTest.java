package dev.backdoorguard.core.bundle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.guard.ModelGuard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded truncations and mutations of every file of a real bundle with a detector (the committed
 * demo model): loading must either succeed or fail with a clear error (an IOException such as
 * {@link BundleException}, or an IllegalArgumentException naming the problem), never crash, hang or
 * run out of memory on a forged length.
 */
class BundleFuzzTest {
    private static final Path DEMO = Path.of("../demo/models/fashion-mnist-backdoored/1");
    private static final List<String> FILES = List.of("weights.safetensors", "model.json", "detector.json",
            "detector.safetensors");

    @TempDir Path tmp;

    @Test
    void mutatedBundlesLoadOrFailWithAClearError() throws Exception {
        Random random = new Random(29112026);
        int loaded = 0;
        int refused = 0;
        for (int round = 0; round < 120; round++) {
            Path bundle = tmp.resolve("b" + round);
            Files.createDirectories(bundle);
            for (String f : FILES) {
                Files.copy(DEMO.resolve(f), bundle.resolve(f));
            }
            String victim = FILES.get(random.nextInt(FILES.size()));
            byte[] bytes = Files.readAllBytes(bundle.resolve(victim));
            Files.write(bundle.resolve(victim), mutate(bytes, random));
            try (ModelGuard guard = ModelGuard.load(bundle, Architectures.standard())) {
                assertThat(guard.spec().numClasses()).isEqualTo(10);
                loaded++;
            } catch (IOException | IllegalArgumentException e) {
                assertThat(e.getMessage()).as("round %d (%s) has a message", round, victim).isNotBlank();
                refused++;
            }
        }
        assertThat(refused).as("most mutations are refused").isGreaterThan(60);
        assertThat(loaded + refused).isEqualTo(120);
    }

    private static byte[] mutate(byte[] bytes, Random r) {
        switch (r.nextInt(5)) {
            case 0: { // truncate
                return java.util.Arrays.copyOf(bytes, r.nextInt(Math.max(1, bytes.length)));
            }
            case 1: { // forge the safetensors header length (or the first 8 bytes of a JSON file)
                byte[] out = bytes.clone();
                long forged = switch (r.nextInt(4)) {
                    case 0 -> Long.MAX_VALUE;
                    case 1 -> -1;
                    case 2 -> 1L << 40;
                    default -> out.length + r.nextInt(1000);
                };
                ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, forged);
                return out;
            }
            case 2: { // flip bytes in the first 2 KiB (headers, JSON)
                byte[] out = bytes.clone();
                for (int k = 0; k < 1 + r.nextInt(8); k++) {
                    out[r.nextInt(Math.min(out.length, 2048))] ^= (byte) (1 + r.nextInt(255));
                }
                return out;
            }
            case 3: { // forge a number in the text (shapes, offsets, dims, classes) to a huge or negative one
                String text = new String(bytes, StandardCharsets.ISO_8859_1);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\d+").matcher(text);
                List<int[]> spans = new java.util.ArrayList<>();
                while (m.find() && m.start() < 4096) {
                    spans.add(new int[] {m.start(), m.end()});
                }
                if (spans.isEmpty()) {
                    return bytes;
                }
                int[] span = spans.get(r.nextInt(spans.size()));
                String forged = r.nextBoolean() ? "99999999999" : "-3";
                return (text.substring(0, span[0]) + forged + text.substring(span[1])).getBytes(StandardCharsets.ISO_8859_1);
            }
            default: { // random garbage of a random size
                byte[] out = new byte[r.nextInt(256)];
                r.nextBytes(out);
                return out;
            }
        }
    }
}
