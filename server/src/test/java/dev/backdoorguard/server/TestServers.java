package dev.backdoorguard.server;

import com.google.protobuf.ByteString;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.DetectorSummary;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.Inspection;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.server.repository.ModelLoader;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Tiny real bundles, servers on ephemeral loopback ports, plaintext channels and request builders. */
final class TestServers {
    /** 1×8×8 images, 3 classes: cnn-small pools globally, so tiny inputs keep the tests fast. */
    static final ModelSpec SPEC = new ModelSpec("cnn-small", new int[] {1, 8, 8}, 3, new float[] {0.5f},
            new float[] {0.25f}, List.of("a", "b", "c"), null, null);
    static final int PIXELS = 64;

    private TestServers() {}

    /** Writes a seeded random-init bundle to {@code dir}. */
    static Path writeBundle(Path dir, long seed) throws IOException {
        try (Classifier c = Classifier.create(SPEC, Architectures.standard(), seed)) {
            Bundles.write(dir, false, SPEC, c.stateDict(), null);
        }
        return dir;
    }

    /** Settings for a test server: ephemeral ports, small queue limits; {@code extra} overrides. */
    static ServerConfig config(Path repository, Map<String, String> extra) {
        Map<String, String> s = new HashMap<>();
        s.put("GUARD_MODEL_REPOSITORY", repository.toString());
        s.put("GUARD_PORT", "0");
        s.put("GUARD_METRICS_PORT", "0");
        s.put("GUARD_WORKERS", "2");
        s.put("GUARD_MAX_ITEMS", "16");
        s.put("GUARD_DRAIN_SECONDS", "10");
        s.putAll(extra);
        return ServerConfig.from(s, repository);
    }

    static ModelLoader realLoader() {
        return ServerMain::loadBundle;
    }

    /** A loader whose guards flag (test-only detector) every item whose first pixel is exactly 1. */
    static ModelLoader flaggingLoader() {
        return dir -> new FlaggingGuard(ServerMain.loadBundle(dir), Duration.ZERO);
    }

    /** As {@link #flaggingLoader()}, and every batch takes at least {@code delay} (to hold requests in flight). */
    static ModelLoader slowLoader(Duration delay) {
        return dir -> new FlaggingGuard(ServerMain.loadBundle(dir), delay);
    }

    static ManagedChannel channel(GuardServer server) {
        return ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(ManagedChannel channel) {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static void close(ManagedChannel channel) throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    static float[] randomPixels(int n, long seed) {
        Random random = new Random(seed);
        float[] p = new float[n * PIXELS];
        for (int i = 0; i < p.length; i++) {
            p[i] = random.nextInt(255) / 255f;  // first pixel never exactly 1: not flagged by default
        }
        return p;
    }

    static ModelInferRequest.InferInputTensor.Builder input(String datatype, long... shape) {
        ModelInferRequest.InferInputTensor.Builder b = ModelInferRequest.InferInputTensor.newBuilder()
                .setName("input").setDatatype(datatype);
        for (long d : shape) {
            b.addShape(d);
        }
        return b;
    }

    /** FP32 [n,1,8,8] in contents. */
    static ModelInferRequest fp32(String model, float[] pixels) {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        for (float v : pixels) {
            c.addFp32Contents(v);
        }
        return ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(input("FP32", pixels.length / PIXELS, 1, 8, 8).setContents(c)).build();
    }

    /** FP32 [n,1,8,8] as little-endian raw_input_contents. */
    static ModelInferRequest fp32Raw(String model, float[] pixels) {
        ByteBuffer b = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : pixels) {
            b.putFloat(v);
        }
        return ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(input("FP32", pixels.length / PIXELS, 1, 8, 8))
                .addRawInputContents(ByteString.copyFrom(b.array())).build();
    }

    /**
     * A test-only {@link Guard}: a real {@link dev.backdoorguard.core.guard.ModelGuard} for the
     * predictions, plus a stand-in detector (until the real critical-layer detector is merged) that
     * flags items whose first pixel is exactly 1.0 and scores each item by that pixel.
     */
    static final class FlaggingGuard implements Guard {
        private final Guard inner;
        private final Duration delay;

        FlaggingGuard(Guard inner, Duration delay) {
            this.inner = inner;
            this.delay = delay;
        }

        @Override
        public ModelSpec spec() {
            return inner.spec();
        }

        @Override
        public boolean hasDetector() {
            return true;
        }

        @Override
        public Optional<DetectorSummary> detector() {
            return Optional.of(new DetectorSummary("test-first-pixel", "unweighted", "cosine-sum", "gaussian", 3.0,
                    Double.NaN, List.of("features.2", "logits"), List.of(new DetectorSummary.ClassCalibration(0, 1, List.of(1),
                            List.of(1.0), 0.5, 0.1, 0.2, 10, 20)), "0".repeat(64)));
        }

        @Override
        public BatchPrediction predict(PixelBatch batch, boolean guard) {
            if (!delay.isZero()) {
                try {
                    Thread.sleep(delay.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            BatchPrediction p = inner.predict(batch, false);
            if (!guard) {
                return p;
            }
            float[] scores = new float[batch.size()];
            boolean[] flags = new boolean[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                scores[i] = batch.pixels()[i * batch.imageSize()];
                flags[i] = scores[i] == 1f;
            }
            return new BatchPrediction(p.size(), p.numClasses(), p.logits(), p.probabilities(), p.labels(), scores,
                    flags);
        }

        @Override
        public Inspection inspect(PixelBatch image) {
            BatchPrediction p = predict(image, true);
            return new Inspection(p.labels()[0], "features.2", List.of(new Inspection.LayerScore("features.2",
                    0.5, 1.0)), p.scores()[0], 0.2, p.scores()[0], p.flags()[0]);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
