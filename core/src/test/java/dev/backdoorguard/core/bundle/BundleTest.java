package dev.backdoorguard.core.bundle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.TestModels;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.model.Classifier;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleTest {
    private final Architectures registry = Architectures.standard();
    @TempDir Path tmp;

    private Path writeTinyBundle(String name) throws IOException {
        try (Classifier c = Classifier.create(TestModels.fashion("cnn-small", null), registry, 3)) {
            Path out = tmp.resolve(name);
            Bundles.write(out, false, c.spec(), c.stateDict(), null);
            return out;
        }
    }

    @Test
    void roundTripKeepsEveryWeightAndTheSpec() throws IOException {
        Path dir = writeTinyBundle("m");
        try (Classifier original = Classifier.create(TestModels.fashion("cnn-small", null), registry, 3);
                Classifier loaded = Classifier.load(dir, registry)) {
            assertThat(loaded.spec().labels()).isEqualTo(TestModels.FASHION_LABELS);
            original.stateDict().forEach((k, v) -> assertThat(loaded.stateDict().get(k).floats()).as(k).isEqualTo(v.floats()));
        }
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("m"); // no temp dirs left behind
        }
    }

    @Test
    void refusesToOverwriteWithoutReplaceAndReplacesAtomicallyWithIt() throws IOException {
        Path dir = writeTinyBundle("m");
        try (Classifier c = Classifier.create(TestModels.fashion("cnn-small", null), registry, 4)) {
            assertThatThrownBy(() -> Bundles.write(dir, false, c.spec(), c.stateDict(), null))
                    .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("--force");
            Bundles.write(dir, true, c.spec(), c.stateDict(), null);
            try (Classifier loaded = Classifier.load(dir, registry)) {
                assertThat(loaded.stateDict().get("features.0.weight").floats())
                        .isEqualTo(c.stateDict().get("features.0.weight").floats());
            }
        }
    }

    @Test
    void aFailingWriteLeavesNothingBehind() throws IOException {
        Path target = tmp.resolve("never");
        assertThatThrownBy(() -> AtomicDirectory.write(target, false, d -> {
            Files.writeString(d.resolve("model.json"), "{}");
            throw new IOException("disk full");
        })).hasMessage("cannot write " + target + ": disk full");
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void truncatedWeightsFileIsNamed() throws IOException {
        Path dir = writeTinyBundle("m");
        Path weights = dir.resolve("weights.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertThatThrownBy(() -> Classifier.load(dir, registry)).isInstanceOf(BundleException.class)
                .hasMessageContaining("weights.safetensors").hasMessageContaining("outside the data section");
    }

    @Test
    void forgedHeaderLengthIsRefusedBeforeAllocating() throws IOException {
        Path f = tmp.resolve("forged.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE / 2).putLong(0);
        Files.write(f, b.array());
        assertThatThrownBy(() -> SafeTensors.read(f)).isInstanceOf(BundleException.class)
                .hasMessageContaining("truncated or corrupt safetensors header");
        Files.write(f, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("header length missing");
    }

    @Test
    void forgedShapeCannotRequestHugeAllocations() throws IOException {
        Path f = tmp.resolve("huge.safetensors");
        writeRaw(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[100000,100000],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("too large");
        writeRaw(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("needs 8 bytes but data_offsets span 4");
        writeRaw(f, "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("unsupported dtype 'Q4'");
        writeRaw(f, "not json at all", new byte[0]);
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("not valid JSON");
        writeRaw(f, "{\"w\":{\"dtype\":\"F32\"", new byte[0]);
        assertThatThrownBy(() -> SafeTensors.read(f)).hasMessageContaining("not valid JSON")
                .hasMessageContaining("(start marker at line 1, column 6)").hasMessageNotContaining("Source");
    }

    @Test
    void anUnclosedDetectorJsonIsExplainedWithoutTheParsersSourceNoise() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("d"));
        Files.writeString(dir.resolve("detector.json"), "{\"classes\": [");
        assertThatThrownBy(() -> dev.backdoorguard.core.detect.DetectorArtifact.read(dir))
                .hasMessageContaining("detector.json: not valid JSON: Unexpected end-of-input: expected close marker"
                        + " for Array (start marker at line 1, column 13)")
                .hasMessageNotContaining("Source");
    }

    @Test
    void acceptsF64AndIgnoresNumBatchesTracked() throws IOException {
        Path dir = writeTinyBundle("m");
        Map<String, HostTensor> state = new HashMap<>(SafeTensors.read(dir.resolve("weights.safetensors")));
        state.put("features.1.num_batches_tracked", HostTensor.ofLongs("n", new long[0], new long[] {7}));
        SafeTensors.write(dir.resolve("weights.safetensors"), state, null);
        try (Classifier c = Classifier.load(dir, registry)) {
            assertThat(c.parameters()).doesNotContainKey("features.1.num_batches_tracked");
        }
        // an F64 tensor is converted
        Path f = tmp.resolve("f64.safetensors");
        writeRaw(f, "{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.25).array());
        assertThat(SafeTensors.read(f).get("w").floats()).containsExactly(0.25f);
    }

    @Test
    void everyMissingExtraOrMisshapedKeyIsNamed() throws IOException {
        Path dir = writeTinyBundle("m");
        Map<String, HostTensor> state = new HashMap<>(SafeTensors.read(dir.resolve("weights.safetensors")));
        state.remove("features.0.weight");
        state.remove("classifier.2.bias");
        state.put("features.99.weight", HostTensor.ofFloats("x", new long[] {1}, new float[1]));
        state.put("features.1.weight", HostTensor.ofFloats("x", new long[] {3}, new float[3]));
        SafeTensors.write(dir.resolve("weights.safetensors"), state, null);
        assertThatThrownBy(() -> Classifier.load(dir, registry)).isInstanceOf(BundleException.class)
                .hasMessageContaining("missing key features.0.weight")
                .hasMessageContaining("missing key classifier.2.bias")
                .hasMessageContaining("unexpected key features.99.weight")
                .hasMessageContaining("key features.1.weight has shape [3], expected (32)");
    }

    @Test
    void badModelJsonIsExplained() throws IOException {
        Path dir = writeTinyBundle("m");
        Path json = dir.resolve("model.json");
        String good = Files.readString(json);
        Files.writeString(json, good.replace("\"cnn-small\"", "\"vgg99\""));
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageContaining("unknown architecture 'vgg99'");
        Files.writeString(json, good.replaceFirst("\"input_shape\" : \\[ 1, 28, 28 \\]", "\"input_shape\" : [ 28, 28 ]"));
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageContaining("'input_shape' must be [C, H, W]");
        Files.writeString(json, good.replaceFirst("\"input_shape\" : \\[ 1, 28, 28 \\]", "\"input_shape\" : [ 3, 28, 28 ]"));
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageContaining("one mean and one std per channel");
        Files.writeString(json, good.replaceFirst("\"num_classes\" : 10", "\"num_classes\" : \"ten\""));
        assertThatThrownBy(() -> Classifier.load(dir, registry))
                .hasMessageContaining("'num_classes' must be an integer, got \"ten\"");
        Files.writeString(json, good.replaceFirst("\"num_classes\" : 10", "\"num_classes\" : 10.7"));
        assertThatThrownBy(() -> Classifier.load(dir, registry))
                .hasMessageContaining("'num_classes' must be an integer, got 10.7");
        Files.writeString(json, "{ broken");
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageContaining("not valid JSON")
                .hasMessageContaining("(line 1, column").hasMessageNotContaining("REDACTED");
        Files.writeString(json, "{\n");  // Jackson quotes the object's start inside its own message
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageEndingWith("model.json: not valid JSON:"
                + " Unexpected end-of-input: expected close marker for Object (start marker at line 1, column 1)"
                + " (line 2, column 1)");
        Files.delete(json);
        assertThatThrownBy(() -> Classifier.load(dir, registry)).hasMessageContaining("model.json: missing");
        assertThatThrownBy(() -> Classifier.load(tmp.resolve("nope"), registry))
                .hasMessageContaining("model bundle directory not found");
    }

    private static void writeRaw(Path f, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(f, b.array());
    }
}
