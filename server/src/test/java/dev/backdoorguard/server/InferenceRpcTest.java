package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelMetadataRequest;
import dev.backdoorguard.proto.inference.ModelMetadataResponse;
import dev.backdoorguard.proto.inference.ModelReadyRequest;
import dev.backdoorguard.proto.inference.ModelStatisticsRequest;
import dev.backdoorguard.proto.inference.ModelStatisticsResponse;
import dev.backdoorguard.proto.inference.RepositoryIndexRequest;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.inference.ServerMetadataRequest;
import dev.backdoorguard.proto.inference.ServerReadyRequest;
import dev.backdoorguard.proto.v1.DetectorInfoRequest;
import dev.backdoorguard.proto.v1.DetectorInfoResponse;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.proto.v1.InspectRequest;
import dev.backdoorguard.proto.v1.InspectResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every RPC, every input form and every input error, against a real server on a loopback port. */
class InferenceRpcTest {
    private static final String MODEL = "fashion";

    @TempDir
    static Path repo;
    private static GuardServer server;
    private static ManagedChannel channel;
    private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;
    private static Guard reference;

    @BeforeAll
    static void start() throws Exception {
        Path bundle = TestServers.writeBundle(repo.resolve(MODEL).resolve("1"), 11);
        server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.flaggingLoader());
        channel = TestServers.channel(server);
        stub = TestServers.stub(channel);
        reference = ServerMain.loadBundle(bundle);
    }

    @AfterAll
    static void stop() throws Exception {
        TestServers.close(channel);
        server.close();
        reference.close();
    }

    private static float[] floats(ModelInferResponse r, String name) {
        for (int i = 0; i < r.getOutputsCount(); i++) {
            ModelInferResponse.InferOutputTensor t = r.getOutputs(i);
            if (t.getName().equals(name)) {
                if (r.getRawOutputContentsCount() > 0) {
                    ByteBuffer b = r.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    float[] out = new float[b.remaining() / 4];
                    b.asFloatBuffer().get(out);
                    return out;
                }
                float[] out = new float[t.getContents().getFp32ContentsCount()];
                for (int j = 0; j < out.length; j++) {
                    out[j] = t.getContents().getFp32Contents(j);
                }
                return out;
            }
        }
        throw new AssertionError("no output " + name);
    }

    private static ModelInferResponse.InferOutputTensor output(ModelInferResponse r, String name) {
        return r.getOutputsList().stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow();
    }

    private static void assertMatchesReference(ModelInferResponse r, float[] pixels) {
        int n = pixels.length / TestServers.PIXELS;
        BatchPrediction expected = reference.predict(new PixelBatch(pixels, n, 1, 8, 8), false);
        assertThat(floats(r, "logits")).containsExactly(expected.logits(), org.assertj.core.data.Offset.offset(1e-5f));
        assertThat(floats(r, "probabilities"))
                .containsExactly(expected.probabilities(), org.assertj.core.data.Offset.offset(1e-5f));
        ModelInferResponse.InferOutputTensor label = output(r, "label");
        assertThat(label.getDatatype()).isEqualTo("INT64");
        assertThat(label.getShapeList()).containsExactly((long) n);
        if (r.getRawOutputContentsCount() == 0) {
            for (int i = 0; i < n; i++) {
                assertThat(label.getContents().getInt64Contents(i)).isEqualTo(expected.labels()[i]);
            }
        }
        assertThat(output(r, "logits").getShapeList()).containsExactly((long) n, 3L);
    }

    @Test
    void serverAndModelStateRpcs() {
        assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
        assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName(MODEL).build()).getReady()).isTrue();
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName(MODEL).setVersion("1").build()).getReady())
                .isTrue();
        assertThat(stub.serverMetadata(ServerMetadataRequest.getDefaultInstance()).getExtensionsList())
                .contains("model_repository", "statistics", "parameters", "guard");
        assertThat(stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModelsList())
                .singleElement().satisfies(m -> {
                    assertThat(m.getName()).isEqualTo(MODEL);
                    assertThat(m.getVersion()).isEqualTo("1");
                    assertThat(m.getState()).isEqualTo("READY");
                });
    }

    @Test
    void modelMetadataReportsNamesDatatypesAndShapes() {
        ModelMetadataResponse m = stub.modelMetadata(ModelMetadataRequest.newBuilder().setName(MODEL).build());
        assertThat(m.getName()).isEqualTo(MODEL);
        assertThat(m.getVersionsList()).containsExactly("1");
        assertThat(m.getPlatform()).isEqualTo("pytorch_safetensors");
        assertThat(m.getInputs(0).getName()).isEqualTo("input");
        assertThat(m.getInputs(0).getShapeList()).containsExactly(-1L, 1L, 8L, 8L);
        assertThat(m.getOutputsList()).extracting(ModelMetadataResponse.TensorMetadata::getName)
                .containsExactly("logits", "probabilities", "label", "guard_score", "guard_flag");
        assertThat(m.getOutputsList()).extracting(ModelMetadataResponse.TensorMetadata::getDatatype)
                .containsExactly("FP32", "FP32", "INT64", "FP32", "BOOL");
        assertThat(m.getOutputs(0).getShapeList()).containsExactly(-1L, 3L);
        assertThat(m.getOutputs(2).getShapeList()).containsExactly(-1L);
    }

    @Test
    void fp32ContentsAnswerWhatTheModelComputes() {
        float[] pixels = TestServers.randomPixels(3, 1);
        ModelInferResponse r = stub.modelInfer(TestServers.fp32(MODEL, pixels).toBuilder().setId("req-7").build());
        assertThat(r.getId()).isEqualTo("req-7");
        assertThat(r.getModelName()).isEqualTo(MODEL);
        assertThat(r.getModelVersion()).isEqualTo("1");
        assertThat(r.getRawOutputContentsCount()).isZero();
        assertMatchesReference(r, pixels);
        assertThat(r.getParametersMap().get("guard.suspicious").getBoolParam()).isFalse();
        assertThat(r.getParametersMap().get("guard.action").getStringParam()).isEqualTo("pass");
        assertThat(r.getParametersMap().get("guard.detector").getStringParam()).isEqualTo("test-first-pixel");
    }

    @Test
    void fp32RawAnswersInRawForm() {
        float[] pixels = TestServers.randomPixels(2, 2);
        ModelInferResponse r = stub.modelInfer(TestServers.fp32Raw(MODEL, pixels));
        assertThat(r.getRawOutputContentsCount()).isEqualTo(5);
        assertMatchesReference(r, pixels);
        ByteBuffer labels = r.getRawOutputContents(2).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        BatchPrediction expected = reference.predict(new PixelBatch(pixels, 2, 1, 8, 8), false);
        assertThat(labels.getLong()).isEqualTo(expected.labels()[0]);
        assertThat(labels.getLong()).isEqualTo(expected.labels()[1]);
        assertThat(r.getRawOutputContents(4).size()).isEqualTo(2);  // BOOL: one byte per item
    }

    @Test
    void uint8InContentsAndRawEqualsTheSameFp32Pixels() {
        float[] pixels = TestServers.randomPixels(2, 3);
        byte[] raw = new byte[pixels.length];
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        for (int i = 0; i < pixels.length; i++) {
            int v = Math.round(pixels[i] * 255);
            raw[i] = (byte) v;
            c.addUintContents(v);
        }
        ModelInferResponse viaRaw = stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("UINT8", 2, 1, 8, 8)).addRawInputContents(ByteString.copyFrom(raw))
                .build());
        ModelInferResponse viaContents = stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("UINT8", 2, 1, 8, 8).setContents(c)).build());
        assertMatchesReference(viaRaw, pixels);
        assertMatchesReference(viaContents, pixels);
    }

    @Test
    void pngBytesDecodeToTheSamePixels() throws IOException {
        float[] pixels = TestServers.randomPixels(2, 4);
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        ByteArrayOutputStream rawForm = new ByteArrayOutputStream();
        for (int i = 0; i < 2; i++) {
            byte[] png = png(pixels, i);
            c.addBytesContents(ByteString.copyFrom(png));
            rawForm.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(png.length).array());
            rawForm.writeBytes(png);
        }
        assertMatchesReference(stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 2).setContents(c)).build()), pixels);
        assertMatchesReference(stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 2))
                .addRawInputContents(ByteString.copyFrom(rawForm.toByteArray())).build()), pixels);
        // Triton's clients often shape BYTES [N, 1]; [N, 2] is still two images per item, refused.
        assertMatchesReference(stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 2, 1).setContents(c)).build()), pixels);
        assertInvalid(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 1, 2).setContents(c)).build(), "[N] or [N, 1]", "[1, 2]");
    }

    @Test
    void colourPngAndJpegAreConvertedToTheModelsGrayscale() throws IOException {
        float[] pixels = TestServers.randomPixels(1, 14);
        BufferedImage rgb = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                int v = Math.round(pixels[y * 8 + x] * 255);
                rgb.setRGB(x, y, (v << 16) | (v << 8) | v);  // a gray picture stored as RGB
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(rgb, "png", png);
        assertMatchesReference(stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 1).setContents(InferTensorContents.newBuilder()
                        .addBytesContents(ByteString.copyFrom(png.toByteArray())))).build()), pixels);
        ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
        assertThat(ImageIO.write(rgb, "jpeg", jpeg)).isTrue();
        ModelInferResponse lossy = stub.modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL)
                .addInputs(TestServers.input("BYTES", 1).setContents(InferTensorContents.newBuilder()
                        .addBytesContents(ByteString.copyFrom(jpeg.toByteArray())))).build());
        assertThat(floats(lossy, "probabilities")).hasSize(3);
    }

    private static byte[] png(float[] pixels, int item) throws IOException {
        BufferedImage image = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                image.getRaster().setSample(x, y, 0, Math.round(pixels[item * 64 + y * 8 + x] * 255));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    @Test
    void requestedOutputsOnly() {
        ModelInferResponse r = stub.modelInfer(TestServers.fp32(MODEL, TestServers.randomPixels(1, 5)).toBuilder()
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("label"))
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("guard_flag"))
                .build());
        assertThat(r.getOutputsList()).extracting(ModelInferResponse.InferOutputTensor::getName)
                .containsExactly("label", "guard_flag");
    }

    private static ModelInferRequest withMode(ModelInferRequest r, String mode) {
        return r.toBuilder().putParameters("guard.mode", InferParameter.newBuilder().setStringParam(mode).build())
                .build();
    }

    @Test
    void flagModeReportsFlaggedItemsAndBlockModeRefusesThem() {
        float[] pixels = TestServers.randomPixels(3, 6);
        pixels[TestServers.PIXELS] = 1f;  // item 1 is "triggered" for the test detector
        ModelInferResponse flagged = stub.modelInfer(TestServers.fp32(MODEL, pixels));
        assertThat(output(flagged, "guard_flag").getContents().getBoolContentsList()).containsExactly(false, true,
                false);
        assertThat(output(flagged, "guard_score").getContents().getFp32Contents(1)).isEqualTo(1f);
        assertThat(flagged.getParametersMap().get("guard.suspicious").getBoolParam()).isTrue();
        assertThat(flagged.getParametersMap().get("guard.action").getStringParam()).isEqualTo("flag");

        assertThatThrownBy(() -> stub.modelInfer(withMode(TestServers.fp32(MODEL, pixels), "block")))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("flagged items [1] of 3");
                });

        ModelInferResponse off = stub.modelInfer(withMode(TestServers.fp32(MODEL, pixels), "OFF"));
        assertThat(off.getParametersMap().get("guard.detector").getStringParam()).isEqualTo("none");
        assertThat(off.getParametersMap().get("guard.suspicious").getBoolParam()).isFalse();
        assertThat(output(off, "guard_flag").getContents().getBoolContentsList()).containsOnly(false);
        assertThat(output(off, "guard_score").getContents().getFp32ContentsList()).allMatch(v -> v.isNaN());

        float[] clean = TestServers.randomPixels(1, 7);
        assertThat(stub.modelInfer(withMode(TestServers.fp32(MODEL, clean), "block"))
                .getParametersMap().get("guard.action").getStringParam()).isEqualTo("pass");
    }

    private static void assertInvalid(ModelInferRequest request, String... fragments) {
        assertRejected(request, Status.Code.INVALID_ARGUMENT, fragments);
    }

    private static void assertRejected(ModelInferRequest request, Status.Code code, String... fragments) {
        assertThatThrownBy(() -> stub.modelInfer(request)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(code);
                    assertThat(e.getStatus().getDescription()).contains(fragments);
                });
    }

    private static ModelInferRequest edit(Consumer<ModelInferRequest.Builder> change) {
        ModelInferRequest.Builder b = TestServers.fp32(MODEL, TestServers.randomPixels(1, 8)).toBuilder();
        change.accept(b);
        return b.build();
    }

    @Test
    void badInputsAreRefusedWithTheFieldNamed() {
        assertInvalid(edit(b -> b.clearInputs()), "inputs", "no input");
        assertInvalid(edit(b -> b.addInputs(b.getInputs(0))), "inputs", "exactly one");
        assertInvalid(edit(b -> b.setInputs(0, b.getInputs(0).toBuilder().setName("image"))), "inputs[0].name",
                "'image'");
        assertInvalid(edit(b -> b.setInputs(0, b.getInputs(0).toBuilder().setDatatype("FP16"))),
                "inputs[0].datatype", "FP16");
        assertInvalid(edit(b -> b.setInputs(0, b.getInputs(0).toBuilder().setShape(2, 9))), "inputs[0].shape",
                "[N, 1, 8, 8]");
        assertInvalid(edit(b -> b.setInputs(0, b.getInputs(0).toBuilder().setShape(0, 2))),
                "inputs[0].contents.fp32_contents", "128");
        assertInvalid(edit(b -> b.setInputs(0, b.getInputs(0).toBuilder().setShape(0, 17))), "inputs[0].shape",
                "limit of 16");
        assertInvalid(edit(b -> b.addRawInputContents(ByteString.copyFrom(new byte[256]))), "both contents and raw");
        assertInvalid(TestServers.fp32Raw(MODEL, TestServers.randomPixels(1, 9)).toBuilder()
                .setRawInputContents(0, ByteString.copyFrom(new byte[4])).build(), "raw_input_contents[0]",
                "256 bytes, got 4");
        assertInvalid(edit(b -> b.putParameters("guard.mode", InferParameter.newBuilder().setStringParam("loud")
                .build())), "parameters['guard.mode']", "off|flag|block", "loud");
        assertInvalid(edit(b -> b.addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                .setName("features"))), "outputs[0].name", "features");
        float[] outOfRange = TestServers.randomPixels(1, 10);
        outOfRange[5] = 2f;
        assertInvalid(TestServers.fp32(MODEL, outOfRange), "[0, 1]");
        assertInvalid(ModelInferRequest.newBuilder().setModelName(MODEL).addInputs(TestServers.input("BYTES", 1)
                .setContents(InferTensorContents.newBuilder().addBytesContents(ByteString.copyFromUtf8("not png"))))
                .build(), "undecodable image");
    }

    @Test
    void imagesOfAnotherSizeAreRefusedNotResized() throws IOException {
        BufferedImage big = new BufferedImage(9, 8, BufferedImage.TYPE_BYTE_GRAY);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(big, "png", out);
        assertInvalid(ModelInferRequest.newBuilder().setModelName(MODEL).addInputs(TestServers.input("BYTES", 1)
                .setContents(InferTensorContents.newBuilder().addBytesContents(ByteString.copyFrom(out.toByteArray()))))
                .build(), "9x8", "8x8");
    }

    @Test
    void unknownModelsAndVersionsAreNotFound() {
        assertRejected(TestServers.fp32("nope", TestServers.randomPixels(1, 1)), Status.Code.NOT_FOUND, "nope");
        assertRejected(TestServers.fp32(MODEL, TestServers.randomPixels(1, 1)).toBuilder().setModelVersion("7")
                .build(), Status.Code.NOT_FOUND, "version '7'");
        assertThatThrownBy(() -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("nope").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void statisticsCountInferences() {
        ModelStatisticsResponse before = stub.modelStatistics(ModelStatisticsRequest.newBuilder().setName(MODEL)
                .build());
        stub.modelInfer(TestServers.fp32(MODEL, TestServers.randomPixels(4, 12)));
        ModelStatisticsResponse after = stub.modelStatistics(ModelStatisticsRequest.getDefaultInstance());
        assertThat(after.getModelStatsList()).singleElement().satisfies(s -> {
            assertThat(s.getName()).isEqualTo(MODEL);
            assertThat(s.getInferenceCount()).isEqualTo(before.getModelStats(0).getInferenceCount() + 4);
            assertThat(s.getExecutionCount()).isGreaterThan(before.getModelStats(0).getExecutionCount());
            assertThat(s.getInferenceStats().getSuccess().getCount())
                    .isEqualTo(before.getModelStats(0).getInferenceStats().getSuccess().getCount() + 1);
            assertThat(s.getInferenceStats().getComputeInfer().getNs()).isPositive();
            assertThat(s.getLastInference()).isPositive();
        });
    }

    @Test
    void guardServiceInspectsOneImageAndDescribesTheDetector() {
        GuardGrpc.GuardBlockingStub guard = GuardGrpc.newBlockingStub(channel);
        float[] pixels = TestServers.randomPixels(1, 13);
        pixels[0] = 1f;
        ByteBuffer raw = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : pixels) {
            raw.putFloat(v);
        }
        InspectResponse in = guard.inspect(InspectRequest.newBuilder().setModelName(MODEL).setDatatype("FP32")
                .addShape(1).addShape(1).addShape(8).addShape(8).setData(ByteString.copyFrom(raw.array())).build());
        assertThat(in.getFlagged()).isTrue();
        assertThat(in.getCriticalLayer()).isEqualTo("features.2");
        assertThat(in.getLayersList()).hasSize(1);
        assertThat(in.getLabel()).isEqualTo(reference.predict(new PixelBatch(pixels, 1, 1, 8, 8), false).labels()[0]);

        DetectorInfoResponse info = guard.detectorInfo(DetectorInfoRequest.newBuilder().setModelName(MODEL).build());
        assertThat(info.getPresent()).isTrue();
        assertThat(info.getMethod()).isEqualTo("test-first-pixel");
        assertThat(info.getClassesList()).singleElement().satisfies(c -> assertThat(c.getThreshold()).isEqualTo(0.2));
        assertThatThrownBy(() -> guard.inspect(InspectRequest.newBuilder().setModelName(MODEL).setDatatype("FP32")
                .addShape(2).addShape(1).addShape(8).addShape(8).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("request.shape", "limit of 1");
                });
    }
}
