package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.backdoorguard.core.data.Datasets;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.core.trigger.Triggers;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.v1.DetectorInfoRequest;
import dev.backdoorguard.proto.v1.DetectorInfoResponse;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.proto.v1.InspectRequest;
import dev.backdoorguard.proto.v1.InspectResponse;
import dev.backdoorguard.server.deploy.DeployTree;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The committed demo repository (demo/models: a backdoored cnn-small and its FST-purified copy, both
 * with a calibrated critical-layer detector) served by the real server with the real detector, on
 * real Fashion-MNIST test images with and without the badnets trigger.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DemoRepositoryTest {
    private static final int N = 200;
    private static final int PIXELS = 784;
    private static final String BACKDOORED = "fashion-mnist-backdoored";
    private static final String PURIFIED = "fashion-mnist";

    private GuardServer server;
    private ManagedChannel channel;
    private GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;
    private float[] clean;
    private float[] triggered;
    private int[] triggeredLabels;

    @BeforeAll
    void serveTheDemoRepository() throws Exception {
        Path repo = DeployTree.root().resolve("demo").resolve("models");
        server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_MAX_ITEMS", "256")), TestServers.realLoader());
        channel = TestServers.channel(server);
        stub = TestServers.stub(channel);
        ImageDataset test = Datasets.load(Datasets.resolveDirectory(null, System.getenv()), Datasets.Split.TEST, 10);
        clean = new float[N * PIXELS];
        System.arraycopy(test.pixels(), 0, clean, 0, clean.length);
        int[] victims = IntStream.range(0, test.size()).filter(i -> test.labels()[i] != 0).limit(N).toArray();
        ImageDataset nonTarget = test.subset(victims);
        Trigger badnets = Triggers.create("badnets", Triggers.DEFAULT_SEED, null, new int[] {1, 28, 28});
        triggered = badnets.applied(nonTarget.pixels(), 0, N, PIXELS);
        triggeredLabels = nonTarget.labels();
    }

    @AfterAll
    void stop() throws Exception {
        TestServers.close(channel);
        server.close();
    }

    private static ModelInferRequest request(String model, float[] pixels, String mode) {
        ByteBuffer raw = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : pixels) {
            raw.putFloat(v);
        }
        return ModelInferRequest.newBuilder().setModelName(model)
                .putParameters("guard.mode", InferParameter.newBuilder().setStringParam(mode).build())
                .addInputs(TestServers.input("FP32", pixels.length / PIXELS, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(raw.array())).build();
    }

    /** Labels and flags of a raw-output response. */
    private static long[][] labelsAndFlags(ModelInferResponse r) {
        long[] labels = null;
        long[] flags = null;
        for (int i = 0; i < r.getOutputsCount(); i++) {
            ByteBuffer b = r.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            switch (r.getOutputs(i).getName()) {
                case "label" -> {
                    labels = new long[b.remaining() / 8];
                    b.asLongBuffer().get(labels);
                }
                case "guard_flag" -> {
                    flags = new long[b.remaining()];
                    for (int j = 0; j < flags.length; j++) {
                        flags[j] = b.get();
                    }
                }
                default -> { }
            }
        }
        return new long[][] {labels, flags};
    }

    private static double share(long[] values, java.util.function.IntPredicate which) {
        return IntStream.range(0, values.length).filter(which).count() / (double) values.length;
    }

    @Test
    void theBackdooredModelIsHijackedByTheTriggerAndItsGuardFlagsIt() {
        long[][] onTriggered = labelsAndFlags(stub.modelInfer(request(BACKDOORED, triggered, "flag")));
        long[][] onClean = labelsAndFlags(stub.modelInfer(request(BACKDOORED, clean, "flag")));
        // Calibration measured ASR 99.1%, TPR 96.7%, FPR 1.8% on the whole test set (demo/README.md).
        assertThat(share(onTriggered[0], i -> onTriggered[0][i] == 0)).as("hijacked").isGreaterThan(0.95);
        assertThat(share(onTriggered[1], i -> onTriggered[1][i] == 1)).as("triggered flagged").isGreaterThan(0.9);
        assertThat(share(onClean[1], i -> onClean[1][i] == 1)).as("clean flagged").isLessThan(0.06);
    }

    @Test
    void thePurifiedModelAnswersTheTriggeredImagesCorrectly() {
        long[][] onTriggered = labelsAndFlags(stub.modelInfer(request(PURIFIED, triggered, "flag")));
        assertThat(share(onTriggered[0], i -> onTriggered[0][i] == 0)).as("still hijacked").isLessThan(0.05);
        assertThat(share(onTriggered[0], i -> onTriggered[0][i] == triggeredLabels[i])).as("correct")
                .isGreaterThan(0.7);
    }

    @Test
    void blockModeRefusesARequestWithATriggeredImageAndInspectShowsTheCriticalLayer() {
        float[] mixed = new float[3 * PIXELS];
        System.arraycopy(clean, 0, mixed, 0, 2 * PIXELS);
        System.arraycopy(triggered, 0, mixed, 2 * PIXELS, PIXELS);
        assertThatThrownBy(() -> stub.modelInfer(request(BACKDOORED, mixed, "block")))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("2");
                });

        GuardGrpc.GuardBlockingStub guard = GuardGrpc.newBlockingStub(channel);
        ByteBuffer raw = ByteBuffer.allocate(PIXELS * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int p = 0; p < PIXELS; p++) {
            raw.putFloat(triggered[p]);
        }
        InspectResponse in = guard.inspect(InspectRequest.newBuilder().setModelName(BACKDOORED).setDatatype("FP32")
                .addShape(1).addShape(1).addShape(28).addShape(28).setData(ByteString.copyFrom(raw.array())).build());
        assertThat(in.getLabel()).isZero();
        assertThat(in.getFlagged()).isTrue();
        assertThat(in.getCriticalLayer()).isEqualTo("avgpool");
        assertThat(in.getLayersList()).hasSize(3);
        assertThat(in.getScore()).isLessThan(in.getThreshold());

        DetectorInfoResponse info = guard.detectorInfo(DetectorInfoRequest.newBuilder().setModelName(BACKDOORED).build());
        assertThat(info.getPresent()).isTrue();
        assertThat(info.getMethod()).isEqualTo("critical-layer");
        // The demo's detector.json predates the score field: read as the specified cosine sum.
        assertThat(info.getScore()).isEqualTo("cosine-sum");
        assertThat(info.getClassesCount()).isEqualTo(10);
    }
}
