package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.proto.v1.InspectRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thousands of seeded random and mutated ModelInfer and Inspect requests against the real server:
 * random datatypes, shapes (negative, zero, huge), contents and raw sizes (truncated, both set),
 * NaN and infinities, names, parameters and random bytes as images. Every request must get a
 * defined answer (never UNKNOWN or INTERNAL, never a hang), and the server must stay live and keep
 * answering valid requests.
 */
class RequestFuzzTest {
    private static final int REQUESTS = 3000;
    private static final Set<Status.Code> DEFINED = Set.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT,
            Status.Code.NOT_FOUND, Status.Code.FAILED_PRECONDITION, Status.Code.RESOURCE_EXHAUSTED);
    private static final List<String> DATATYPES = List.of("FP32", "UINT8", "BYTES", "INT64", "FP16", "BOOL", "",
            "fp32", "FP32 ", "\u0000");
    private static final long[] DIMS = {-7, -1, 0, 1, 1, 1, 2, 3, 8, 8, 8, 9, 64, 65, 1L << 31, 1L << 40, Long.MAX_VALUE};

    @TempDir Path repo;

    @Test
    void everyMalformedRequestGetsADefinedStatusAndTheServerStaysLive() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        Random random = new Random(20261129);
        Map<Status.Code, Integer> seen = new EnumMap<>(Status.Code.class);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            try {
                GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
                GuardGrpc.GuardBlockingStub guard = GuardGrpc.newBlockingStub(channel);
                for (int i = 0; i < REQUESTS; i++) {
                    ModelInferRequest request = randomRequest(random);
                    Status.Code code;
                    try {
                        if (i % 10 == 9) {
                            guard.withDeadlineAfter(10, TimeUnit.SECONDS).inspect(asInspect(request, random));
                        } else {
                            stub.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(request);
                        }
                        code = Status.Code.OK;
                    } catch (StatusRuntimeException e) {
                        code = e.getStatus().getCode();
                        assertThat(code).as("request %d: %s -> %s", i, summary(request), e.getStatus())
                                .isIn(DEFINED);
                        assertThat(e.getStatus().getDescription()).as("request %d has a message", i).isNotBlank();
                    }
                    seen.merge(code, 1, Integer::sum);
                }
                assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
                assertThat(stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(2, 1))).getOutputsCount())
                        .isEqualTo(5);
            } finally {
                TestServers.close(channel);
            }
        }
        // The generator must reach both sides: valid requests that are answered and each rejection kind.
        assertThat(seen).containsKeys(Status.Code.OK, Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND);
    }

    private static ModelInferRequest randomRequest(Random r) {
        ModelInferRequest.Builder b = ModelInferRequest.newBuilder()
                .setModelName(pick(r, List.of("m", "m", "m", "m", "", "nope", "../m", "m/1", "M")))
                .setModelVersion(pick(r, List.of("", "", "", "1", "2", "-1", "x")));
        if (r.nextInt(5) == 0) {
            b.putParameters("guard.mode", pick(r, List.of(
                    InferParameter.newBuilder().setStringParam(pick(r, List.of("off", "flag", "block", "", "FLAG", "x")))
                            .build(),
                    InferParameter.newBuilder().setInt64Param(r.nextLong()).build(),
                    InferParameter.newBuilder().setBoolParam(true).build())));
        }
        int inputs = r.nextInt(10) == 0 ? r.nextInt(3) * 2 : 1;  // sometimes none or several
        for (int k = 0; k < inputs; k++) {
            String datatype = r.nextInt(3) == 0 ? pick(r, DATATYPES) : "FP32";
            ModelInferRequest.InferInputTensor.Builder in = ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(r.nextInt(8) == 0 ? pick(r, List.of("", "inputs", "INPUT", "input\n")) : "input")
                    .setDatatype(datatype);
            int rank = r.nextInt(6) == 0 ? r.nextInt(7) : 4;
            long items = 1;
            for (int d = 0; d < rank; d++) {
                long dim = r.nextInt(3) == 0 ? DIMS[r.nextInt(DIMS.length)] : (d == 0 ? 1 + r.nextInt(3) : d == 1 ? 1 : 8);
                in.addShape(dim);
                items = d == 0 ? dim : items;
            }
            int values = (items < 1 || items > 64 ? 1 : (int) items) * 64;  // what a [items,1,8,8] tensor holds
            int form = r.nextInt(4);
            if (form == 0 || form == 2) {  // contents (sometimes truncated or padded)
                InferTensorContents.Builder c = InferTensorContents.newBuilder();
                int n = r.nextInt(4) == 0 ? r.nextInt(values + 9) : values;
                for (int v = 0; v < n; v++) {
                    switch (datatype) {
                        case "UINT8" -> c.addUintContents(r.nextInt(4) == 0 ? r.nextInt() : r.nextInt(256));
                        case "BYTES" -> c.addBytesContents(ByteString.copyFrom(randomBytes(r, r.nextInt(64))));
                        case "INT64" -> c.addInt64Contents(r.nextLong());
                        default -> c.addFp32Contents(special(r));
                    }
                }
                in.setContents(c);
            }
            b.addInputs(in);
            if (form == 1 || form == 2) {  // raw (sometimes alongside contents, truncated or oversized)
                int bytes = r.nextInt(3) == 0 ? r.nextInt(values * 4 + 16) : values * 4;
                b.addRawInputContents(ByteString.copyFrom(r.nextInt(4) == 0 ? randomBytes(r, bytes) : floats(r, bytes)));
            }
        }
        if (r.nextInt(6) == 0) {
            b.addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                    .setName(pick(r, List.of("logits", "label", "guard_flag", "nope", ""))));
        }
        return b.build();
    }

    private static InspectRequest asInspect(ModelInferRequest request, Random r) {
        InspectRequest.Builder b = InspectRequest.newBuilder().setModelName(request.getModelName());
        if (request.getInputsCount() > 0) {
            b.setDatatype(request.getInputs(0).getDatatype()).addAllShape(request.getInputs(0).getShapeList());
        }
        return b.setData(ByteString.copyFrom(randomBytes(r, r.nextInt(1024)))).build();
    }

    /** {@code bytes} bytes of little-endian floats, almost all valid pixels. */
    private static byte[] floats(Random r, int bytes) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (b.remaining() >= 4) {
            b.putFloat(special(r));
        }
        return b.array();
    }

    /** A pixel value: valid most of the time, sometimes NaN, an infinity or far out of range. */
    private static float special(Random r) {
        return switch (r.nextInt(2000)) {
            case 0 -> Float.NaN;
            case 1 -> Float.POSITIVE_INFINITY;
            case 2 -> Float.NEGATIVE_INFINITY;
            case 3 -> -r.nextFloat() * 1e30f;
            default -> r.nextFloat();
        };
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        if (n > 8 && r.nextBoolean()) {  // a PNG signature on garbage: decoders must fail cleanly
            byte[] png = {(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
            System.arraycopy(png, 0, b, 0, png.length);
        }
        return b;
    }

    private static <T> T pick(Random r, List<T> values) {
        return values.get(r.nextInt(values.size()));
    }

    private static String summary(ModelInferRequest request) {
        StringBuilder s = new StringBuilder("model '" + request.getModelName() + "'");
        for (ModelInferRequest.InferInputTensor in : request.getInputsList()) {
            s.append(" input '").append(in.getName()).append("' ").append(in.getDatatype()).append(' ')
                    .append(in.getShapeList());
        }
        return s.append(" raw ").append(request.getRawInputContentsCount()).toString();
    }
}
