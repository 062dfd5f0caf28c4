package dev.backdoorguard.client;

import com.google.protobuf.ByteString;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelMetadataRequest;
import dev.backdoorguard.proto.inference.ModelMetadataResponse;
import dev.backdoorguard.proto.inference.ModelReadyRequest;
import dev.backdoorguard.proto.inference.ModelReadyResponse;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.inference.ServerLiveResponse;
import dev.backdoorguard.proto.inference.ServerMetadataRequest;
import dev.backdoorguard.proto.inference.ServerMetadataResponse;
import dev.backdoorguard.proto.inference.ServerReadyRequest;
import dev.backdoorguard.proto.inference.ServerReadyResponse;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;

/**
 * A small real gRPC server on an ephemeral loopback port with canned, input-dependent answers, for testing the
 * client without libtorch. Model {@code fashion} takes [N,1,28,28]; an item whose badnets square (rows and columns
 * 24..26) is white is flagged (score 1) and predicted as class 0, any other item gets class = round(mean pixel * 9)
 * and score = the share of white trigger pixels. Model {@code flaky} answers UNAVAILABLE to its first
 * {@code flakyFailures} calls; {@code fashion-mnist} and {@code backdoored} answer like {@code fashion} (for the
 * demo); {@code unguarded} answers like {@code fashion} but as a model served without a detector (NaN scores, nothing
 * flagged, detector {@code none}). Any other model name is NOT_FOUND.
 */
public final class CannedInferenceServer implements AutoCloseable {
    /** Most items per request by default, as guard serve's --max-items. */
    public static final int MAX_ITEMS = 64;
    static final int SIDE = 28;
    static final int CLASSES = 10;

    public final AtomicInteger inferCalls = new AtomicInteger();
    public final AtomicInteger flakyCalls = new AtomicInteger();
    public volatile int flakyFailures = 2;
    public volatile boolean rawOutputs = true;
    public volatile long delayMillis;
    /** Most items per request, as guard serve's --max-items. */
    public volatile int maxItems = MAX_ITEMS;

    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    private CannedInferenceServer(ServerCredentials credentials, String token) throws IOException {
        this(credentials, token, 0);
    }

    private CannedInferenceServer(ServerCredentials credentials, String token, int port) throws IOException {
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port), credentials);
        builder.addService(ServerInterceptors.intercept(new Service(), new TokenCheck(token)));
        builder.addService(health.getHealthService());
        server = builder.build().start();
        health.setStatus("", HealthCheckResponse.ServingStatus.SERVING);
    }

    public static CannedInferenceServer plaintext() throws IOException {
        return new CannedInferenceServer(io.grpc.InsecureServerCredentials.create(), null);
    }

    /** On a given loopback port (for {@link CannedServerMain}). */
    public static CannedInferenceServer onPort(int port) throws IOException {
        return new CannedInferenceServer(io.grpc.InsecureServerCredentials.create(), null, port);
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    static CannedInferenceServer with(ServerCredentials credentials, String token) throws IOException {
        return new CannedInferenceServer(credentials, token);
    }

    public String target() {
        return "127.0.0.1:" + server.getPort();
    }

    void setServing(boolean serving) {
        health.setStatus("", serving ? HealthCheckResponse.ServingStatus.SERVING
                : HealthCheckResponse.ServingStatus.NOT_SERVING);
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The canned classification of one 28x28 item. */
    public static int cannedLabel(float[] pixels) {
        return triggerShare(pixels) == 1.0 ? 0 : Math.round(mean(pixels) * (CLASSES - 1));
    }

    public static double triggerShare(float[] pixels) {
        int white = 0;
        for (int r = SIDE - 4; r <= SIDE - 2; r++) {
            for (int c = SIDE - 4; c <= SIDE - 2; c++) {
                white += pixels[r * SIDE + c] >= 0.999f ? 1 : 0;
            }
        }
        return white / 9.0;
    }

    private static float mean(float[] pixels) {
        double sum = 0;
        for (float p : pixels) {
            sum += p;
        }
        return (float) (sum / pixels.length);
    }

    private final class Service extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
        @Override
        public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
            out.onNext(ServerLiveResponse.newBuilder().setLive(true).build());
            out.onCompleted();
        }

        @Override
        public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
            out.onNext(ServerReadyResponse.newBuilder().setReady(true).build());
            out.onCompleted();
        }

        @Override
        public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
            if (!known(request.getName(), out)) {
                return;
            }
            out.onNext(ModelReadyResponse.newBuilder().setReady(true).build());
            out.onCompleted();
        }

        @Override
        public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
            out.onNext(ServerMetadataResponse.newBuilder().setName("canned").setVersion("0")
                    .addExtensions("guard").build());
            out.onCompleted();
        }

        @Override
        public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
            if (!known(request.getName(), out)) {
                return;
            }
            out.onNext(ModelMetadataResponse.newBuilder().setName(request.getName()).addVersions("1")
                    .setPlatform("pytorch_safetensors")
                    .addInputs(tensor("input", "FP32", -1, 1, SIDE, SIDE))
                    .addOutputs(tensor("logits", "FP32", -1, CLASSES))
                    .addOutputs(tensor("probabilities", "FP32", -1, CLASSES))
                    .addOutputs(tensor("label", "INT64", -1))
                    .addOutputs(tensor("guard_score", "FP32", -1))
                    .addOutputs(tensor("guard_flag", "BOOL", -1))
                    .build());
            out.onCompleted();
        }

        @Override
        public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
            inferCalls.incrementAndGet();
            if (!known(request.getModelName(), out)) {
                return;
            }
            if (request.getModelName().equals("flaky") && flakyCalls.incrementAndGet() <= flakyFailures) {
                out.onError(Status.UNAVAILABLE.withDescription("model flaky is loading").asRuntimeException());
                return;
            }
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            String mode = request.getParametersMap().containsKey("guard.mode")
                    ? request.getParametersMap().get("guard.mode").getStringParam() : "flag";
            // guard serve's model without a detector: NaN scores, no flags, detector "none", in every mode
            boolean guarded = !request.getModelName().equals("unguarded");
            if (!List.of("off", "flag", "block").contains(mode)) {
                out.onError(Status.INVALID_ARGUMENT.withDescription("parameter guard.mode must be off|flag|block")
                        .asRuntimeException());
                return;
            }
            List<float[]> items;
            try {
                items = decode(request, maxItems);
            } catch (IllegalArgumentException e) {
                out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
                return;
            }
            int n = items.size();
            ByteBuffer probabilities = floats(n * CLASSES);
            ByteBuffer labels = ByteBuffer.allocate(n * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer scores = floats(n);
            byte[] flags = new byte[n];
            List<Integer> flagged = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int label = cannedLabel(items.get(i));
                for (int k = 0; k < CLASSES; k++) {
                    probabilities.putFloat(k == label ? 0.91f : 0.01f);
                }
                labels.putLong(label);
                double share = triggerShare(items.get(i));
                scores.putFloat(guarded ? (float) share : Float.NaN);
                boolean flag = guarded && !mode.equals("off") && share == 1.0;
                flags[i] = (byte) (flag ? 1 : 0);
                if (flag) {
                    flagged.add(i);
                }
            }
            if (mode.equals("block") && !flagged.isEmpty()) {
                out.onError(Status.FAILED_PRECONDITION.withDescription("blocked: items " + flagged + " flagged")
                        .asRuntimeException());
                return;
            }
            ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                    .setModelName(request.getModelName()).setModelVersion("1").setId(request.getId())
                    .putParameters("guard.suspicious", InferParameter.newBuilder().setBoolParam(!flagged.isEmpty()).build())
                    .putParameters("guard.detector", InferParameter.newBuilder()
                            .setStringParam(guarded ? "canned" : "none").build())
                    .putParameters("guard.action", InferParameter.newBuilder()
                            .setStringParam(mode.equals("off") ? "pass" : flagged.isEmpty() ? "pass" : "flag").build());
            addOutput(response, "probabilities", "FP32", probabilities.array(), n, CLASSES);
            addOutput(response, "label", "INT64", labels.array(), n);
            if (!mode.equals("off")) {
                addOutput(response, "guard_score", "FP32", scores.array(), n);
                addOutput(response, "guard_flag", "BOOL", flags, n);
            }
            out.onNext(response.build());
            out.onCompleted();
        }

        private void addOutput(ModelInferResponse.Builder response, String name, String datatype, byte[] raw,
                long... shape) {
            ModelInferResponse.InferOutputTensor.Builder tensor = ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName(name).setDatatype(datatype);
            for (long dim : shape) {
                tensor.addShape(dim);
            }
            if (rawOutputs) {
                response.addOutputs(tensor).addRawOutputContents(ByteString.copyFrom(raw));
                return;
            }
            InferTensorContents.Builder contents = InferTensorContents.newBuilder();
            ByteBuffer buffer = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            switch (datatype) {
                case "FP32" -> { while (buffer.hasRemaining()) contents.addFp32Contents(buffer.getFloat()); }
                case "INT64" -> { while (buffer.hasRemaining()) contents.addInt64Contents(buffer.getLong()); }
                default -> { for (byte b : raw) contents.addBoolContents(b != 0); }
            }
            response.addOutputs(tensor.setContents(contents));
        }

        private boolean known(String model, StreamObserver<?> out) {
            if (List.of("fashion", "flaky", "fashion-mnist", "backdoored", "unguarded").contains(model)) {
                return true;
            }
            out.onError(Status.NOT_FOUND.withDescription("unknown model '" + model + "'").asRuntimeException());
            return false;
        }
    }

    private static List<float[]> decode(ModelInferRequest request, int maxItems) {
        if (request.getInputsCount() != 1 || !request.getInputs(0).getName().equals("input")) {
            throw new IllegalArgumentException("inputs: expected one input named 'input'");
        }
        ModelInferRequest.InferInputTensor input = request.getInputs(0);
        int n = (int) input.getShape(0);
        if (n > maxItems) { // guard serve's --max-items check and wording
            throw new IllegalArgumentException("inputs[0].shape: " + n + " items exceed the server's limit of "
                    + maxItems + " per request");
        }
        int plane = SIDE * SIDE;
        List<float[]> items = new ArrayList<>();
        switch (input.getDatatype()) {
            case "FP32", "UINT8" -> {
                if (input.getShapeCount() != 4 || input.getShape(1) != 1 || input.getShape(2) != SIDE
                        || input.getShape(3) != SIDE) {
                    throw new IllegalArgumentException("inputs[0].shape must be [N,1,28,28], got "
                            + input.getShapeList());
                }
                boolean fp32 = input.getDatatype().equals("FP32");
                ByteBuffer raw = request.getRawInputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                if (raw.remaining() != n * plane * (fp32 ? 4 : 1)) {
                    throw new IllegalArgumentException("raw_input_contents[0] has " + raw.remaining() + " bytes");
                }
                for (int i = 0; i < n; i++) {
                    float[] item = new float[plane];
                    for (int p = 0; p < plane; p++) {
                        item[p] = fp32 ? raw.getFloat() : (raw.get() & 0xff) / 255f;
                    }
                    items.add(item);
                }
            }
            case "BYTES" -> {
                for (ByteString encoded : input.getContents().getBytesContentsList()) {
                    try {
                        BufferedImage image = ImageIO.read(new ByteArrayInputStream(encoded.toByteArray()));
                        if (image == null || image.getWidth() != SIDE || image.getHeight() != SIDE) {
                            // guard serve's wording: the item is named, so that clients can tell which one
                            throw new IllegalArgumentException("inputs[0].contents item " + items.size()
                                    + ": not a 28x28 PNG/JPEG image");
                        }
                        float[] item = new float[plane];
                        for (int p = 0; p < plane; p++) {
                            item[p] = (image.getRGB(p % SIDE, p / SIDE) & 0xff) / 255f;
                        }
                        items.add(item);
                    } catch (IOException e) {
                        throw new IllegalArgumentException("inputs[0].contents item " + items.size()
                                + ": undecodable image");
                    }
                }
            }
            default -> throw new IllegalArgumentException("inputs[0].datatype " + input.getDatatype());
        }
        return items;
    }

    private static ByteBuffer floats(int count) {
        return ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ModelMetadataResponse.TensorMetadata tensor(String name, String datatype, long... shape) {
        ModelMetadataResponse.TensorMetadata.Builder builder =
                ModelMetadataResponse.TensorMetadata.newBuilder().setName(name).setDatatype(datatype);
        for (long dim : shape) {
            builder.addShape(dim);
        }
        return builder.build();
    }

    /** Requires {@code authorization: Bearer <token>} when a token is configured. */
    private static final class TokenCheck implements ServerInterceptor {
        private static final Metadata.Key<String> AUTHORIZATION =
                Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        private final String token;

        TokenCheck(String token) {
            this.token = token;
        }

        @Override
        public <Q, A> ServerCall.Listener<Q> interceptCall(
                ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            if (token != null && !("Bearer " + token).equals(headers.get(AUTHORIZATION))) {
                call.close(Status.UNAUTHENTICATED.withDescription("missing or wrong bearer token"), new Metadata());
                return new ServerCall.Listener<>() {};
            }
            return next.startCall(call, headers);
        }
    }
}
