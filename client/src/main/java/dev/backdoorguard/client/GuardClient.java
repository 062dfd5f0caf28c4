package dev.backdoorguard.client;

import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelMetadataRequest;
import dev.backdoorguard.proto.inference.ModelMetadataResponse;
import dev.backdoorguard.proto.inference.ModelReadyRequest;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.inference.ServerMetadataResponse;
import dev.backdoorguard.proto.inference.ServerMetadataRequest;
import dev.backdoorguard.proto.inference.ServerReadyRequest;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A client of a Backdoor Guard server (or any Open Inference Protocol v2 server): health, metadata and inference
 * with the guard's per-item scores and flags. Owns its channel; thread-safe; close it when done.
 *
 * <pre>{@code
 * try (GuardClient client = GuardClient.connect(ClientConfig.plaintext("127.0.0.1:8500"))) {
 *     Prediction p = client.predict(PredictRequest.of("fashion-mnist", InputBatch.files(List.of(png))));
 * }
 * }</pre>
 *
 * <p>Every call has the configured deadline; UNAVAILABLE is retried by the channel's retry policy; failures arrive as
 * {@link GuardClientException} (subclasses {@link InputBlockedException}, {@link InvalidRequestException},
 * {@link ServerUnavailableException}).
 */
public final class GuardClient implements AutoCloseable {
    private final ClientConfig config;
    private final ManagedChannel channel;

    private GuardClient(ClientConfig config, ManagedChannel channel) {
        this.config = config;
        this.channel = channel;
    }

    /** Opens a channel to {@code config.target()}; connecting happens lazily on the first call. */
    public static GuardClient connect(ClientConfig config) {
        return new GuardClient(config, Channels.open(config));
    }

    /** The configuration this client was opened with. */
    public ClientConfig config() {
        return config;
    }

    /** {@code grpc.health.v1.Health/Check} for {@code service} ({@code ""}: the whole server). */
    public HealthStatus health(String service) {
        return call("health check", () -> {
            switch (HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(config.deadline().toMillis(), TimeUnit.MILLISECONDS)
                    .check(HealthCheckRequest.newBuilder().setService(service).build())
                    .getStatus()) {
                case SERVING:
                    return HealthStatus.SERVING;
                case NOT_SERVING:
                    return HealthStatus.NOT_SERVING;
                case SERVICE_UNKNOWN:
                    return HealthStatus.SERVICE_UNKNOWN;
                default:
                    return HealthStatus.UNKNOWN;
            }
        });
    }

    /** ServerLive. */
    public boolean serverLive() {
        return call("ServerLive", () -> stub().serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
    }

    /** ServerReady. */
    public boolean serverReady() {
        return call("ServerReady", () -> stub().serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
    }

    /** ModelReady for the latest version of {@code model}. */
    public boolean modelReady(String model) {
        return call("ModelReady of " + model,
                () -> stub().modelReady(ModelReadyRequest.newBuilder().setName(model).build()).getReady());
    }

    /** ServerMetadata. */
    public ServerInfo serverMetadata() {
        return call("ServerMetadata", () -> {
            ServerMetadataResponse response = stub().serverMetadata(ServerMetadataRequest.getDefaultInstance());
            return new ServerInfo(response.getName(), response.getVersion(), response.getExtensionsList());
        });
    }

    /** ModelMetadata of the latest version of {@code model}. */
    public ModelInfo modelMetadata(String model) {
        return call("ModelMetadata of " + model, () -> {
            ModelMetadataResponse response = stub().modelMetadata(ModelMetadataRequest.newBuilder().setName(model).build());
            return new ModelInfo(response.getName(), response.getVersionsList(), response.getPlatform(),
                    response.getInputsList().stream().map(GuardClient::tensor).toList(),
                    response.getOutputsList().stream().map(GuardClient::tensor).toList());
        });
    }

    /** Classifies a batch; see {@link PredictRequest}. */
    public Prediction predict(PredictRequest request) {
        ModelInferRequest message = InferMessages.request(request);
        return call("ModelInfer on " + request.model(), () -> InferMessages.prediction(
                stub().modelInfer(message), request.batch().size(), request.labels()));
    }

    /** Classifies a batch of the latest version of {@code model} with the server's default guard mode. */
    public Prediction predict(String model, InputBatch batch) {
        return predict(PredictRequest.of(model, batch));
    }

    /**
     * Classifies a batch without blocking; the future fails with a {@link GuardClientException}. Callbacks run on
     * gRPC's executor, so keep them short.
     */
    public CompletableFuture<Prediction> predictAsync(PredictRequest request) {
        ModelInferRequest message = InferMessages.request(request);
        String what = "ModelInfer on " + request.model();
        CompletableFuture<Prediction> result = new CompletableFuture<>();
        GRPCInferenceServiceGrpc.newStub(channel)
                .withDeadlineAfter(config.deadline().toMillis(), TimeUnit.MILLISECONDS)
                .modelInfer(message, new StreamObserver<>() {
                    @Override
                    public void onNext(ModelInferResponse response) {
                        try {
                            result.complete(InferMessages.prediction(
                                    response, request.batch().size(), request.labels()));
                        } catch (RuntimeException e) {
                            result.completeExceptionally(Errors.map(what, config.target(), e));
                        }
                    }

                    @Override
                    public void onError(Throwable failure) {
                        result.completeExceptionally(Errors.map(what, config.target(), failure));
                    }

                    @Override
                    public void onCompleted() {
                        // a unary call completes after its one onNext
                    }
                });
        return result;
    }

    /** Shuts the channel down, waiting briefly for calls in flight. */
    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub() {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(config.deadline().toMillis(), TimeUnit.MILLISECONDS);
    }

    private <T> T call(String what, Supplier<T> rpc) {
        try {
            return rpc.get();
        } catch (RuntimeException e) {
            throw Errors.map(what, config.target(), e);
        }
    }

    private static TensorInfo tensor(ModelMetadataResponse.TensorMetadata metadata) {
        return new TensorInfo(metadata.getName(), metadata.getDatatype(), List.copyOf(metadata.getShapeList()));
    }
}
