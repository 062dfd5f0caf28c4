package dev.backdoorguard.server.rpc;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferStatistics;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelMetadataRequest;
import dev.backdoorguard.proto.inference.ModelMetadataResponse;
import dev.backdoorguard.proto.inference.ModelReadyRequest;
import dev.backdoorguard.proto.inference.ModelReadyResponse;
import dev.backdoorguard.proto.inference.ModelStatistics;
import dev.backdoorguard.proto.inference.ModelStatisticsRequest;
import dev.backdoorguard.proto.inference.ModelStatisticsResponse;
import dev.backdoorguard.proto.inference.RepositoryIndexRequest;
import dev.backdoorguard.proto.inference.RepositoryIndexResponse;
import dev.backdoorguard.proto.inference.RepositoryModelLoadRequest;
import dev.backdoorguard.proto.inference.RepositoryModelLoadResponse;
import dev.backdoorguard.proto.inference.RepositoryModelUnloadRequest;
import dev.backdoorguard.proto.inference.RepositoryModelUnloadResponse;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.inference.ServerLiveResponse;
import dev.backdoorguard.proto.inference.ServerMetadataRequest;
import dev.backdoorguard.proto.inference.ServerMetadataResponse;
import dev.backdoorguard.proto.inference.ServerReadyRequest;
import dev.backdoorguard.proto.inference.ServerReadyResponse;
import dev.backdoorguard.proto.inference.StatisticDuration;
import dev.backdoorguard.server.batch.DynamicBatcher;
import dev.backdoorguard.server.metrics.GuardMetrics;
import dev.backdoorguard.server.repository.ModelNotFoundException;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.repository.ModelStats;
import dev.backdoorguard.server.repository.ModelUnavailableException;
import dev.backdoorguard.server.repository.ServedModel;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** gRPC face of the model repository and the batcher (OIP v2 + Triton): proto in, proto out, failures as statuses. */
public final class InferenceService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
    private static final Logger logger = LoggerFactory.getLogger(InferenceService.class);
    static final List<String> EXTENSIONS = List.of("model_repository", "statistics", "parameters", "guard");

    private final ModelRepository models;
    private final DynamicBatcher batcher;
    private final GuardMetrics metrics;
    private final GuardMode defaultMode;
    private final int maxItems;
    private final String serverVersion;
    private final Executor responseExecutor;

    public InferenceService(ModelRepository models, DynamicBatcher batcher, GuardMetrics metrics,
            GuardMode defaultMode, int maxItems, String serverVersion, Executor responseExecutor) {
        this.models = models;
        this.batcher = batcher;
        this.metrics = metrics;
        this.defaultMode = defaultMode;
        this.maxItems = maxItems;
        this.serverVersion = serverVersion;
        this.responseExecutor = responseExecutor;
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> responses) {
        answer(responses, () -> ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> responses) {
        answer(responses, () -> ServerReadyResponse.newBuilder().setReady(models.allReady()).build());
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> responses) {
        answer(responses, () -> {
            boolean ready;
            try {
                models.find(request.getName(), request.getVersion());
                ready = true;
            } catch (ModelUnavailableException e) {
                ready = false;
            }
            return ModelReadyResponse.newBuilder().setReady(ready).build();
        });
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> responses) {
        answer(responses, () -> ServerMetadataResponse.newBuilder().setName("backdoor-guard")
                .setVersion(serverVersion).addAllExtensions(EXTENSIONS).build());
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> responses) {
        answer(responses, () -> {
            ServedModel model = models.find(request.getName(), request.getVersion());
            return Messages.metadata(model.name(), model.version(), model.guard().spec());
        });
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> responses) {
        long start = System.nanoTime();
        ServedModel model;
        Messages.InferenceCall call;
        try {
            model = models.acquire(request.getModelName(), request.getModelVersion());
        } catch (RuntimeException e) {
            responses.onError(GrpcErrors.toStatus(e));
            return;
        }
        CompletableFuture<BatchPrediction> result;
        try {
            ModelSpec spec = model.guard().spec();
            call = Messages.toCall(request, spec, defaultMode, maxItems);
            boolean guard = call.mode() != GuardMode.OFF && model.guard().hasDetector();
            Deadline deadline = Context.current().getDeadline();
            long deadlineNanos = deadline == null ? Long.MAX_VALUE
                    : System.nanoTime() + deadline.timeRemaining(TimeUnit.NANOSECONDS);
            result = batcher.submit(model, call.batch(), guard, deadlineNanos);
        } catch (RuntimeException e) {
            finish(model, start, GrpcErrors.status(e), responses, null);
            return;
        }
        Messages.InferenceCall accepted = call;
        // Responses are built and sent on the gRPC pool, so inference workers go straight back to compute.
        result.whenCompleteAsync((prediction, failure) -> {
            if (failure != null) {
                finish(model, start, GrpcErrors.status(failure), responses, null);
                return;
            }
            try {
                String detector = GuardMetrics.detectorName(model);
                int flagged = prediction.flaggedCount();
                String action = "pass";
                if (flagged > 0 && accepted.mode() == GuardMode.BLOCK) {
                    metrics.flagged(model, "block", flagged);
                    throw new InputBlockedException("guard.mode=block: detector " + detector + " flagged items "
                            + flaggedItems(prediction) + " of " + prediction.size());
                }
                if (flagged > 0) {
                    metrics.flagged(model, "flag", flagged);
                    action = "flag";
                }
                ModelInferResponse response = Messages.toResponse(request, model.name(), model.version(), accepted,
                        prediction, detector, action);
                finish(model, start, Status.OK, responses, response);
            } catch (RuntimeException e) {
                finish(model, start, GrpcErrors.status(e), responses, null);
            }
        }, responseExecutor);
    }

    private void finish(ServedModel model, long start, Status status, StreamObserver<ModelInferResponse> responses,
            ModelInferResponse response) {
        long nanos = System.nanoTime() - start;
        boolean ok = status.isOk();
        try {
            (ok ? model.stats().success : model.stats().fail).add(nanos);
            metrics.request(model, ok, ok ? "ok" : status.getCode().name(), nanos);
        } catch (RuntimeException e) {
            logger.warn("recording request metrics failed", e);  // never keeps the answer from the client
        }
        try {
            if (ok) {
                responses.onNext(response);
                responses.onCompleted();
            } else {
                responses.onError(status.asRuntimeException());
            }
        } catch (RuntimeException e) {
            // The client went away (cancelled): nothing left to tell it.
        } finally {
            model.release();
        }
    }

    private static List<Integer> flaggedItems(BatchPrediction p) {
        List<Integer> items = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            if (p.flags()[i]) {
                items.add(i);
            }
        }
        return items;
    }

    @Override
    public void modelStatistics(ModelStatisticsRequest request, StreamObserver<ModelStatisticsResponse> responses) {
        answer(responses, () -> {
            List<ServedModel> selected = new ArrayList<>();
            if (request.getName().isEmpty()) {
                selected.addAll(models.served());
            } else {
                selected.add(models.find(request.getName(), request.getVersion()));
            }
            ModelStatisticsResponse.Builder b = ModelStatisticsResponse.newBuilder();
            for (ServedModel m : selected) {
                ModelStats s = m.stats();
                b.addModelStats(ModelStatistics.newBuilder()
                        .setName(m.name()).setVersion(m.version())
                        .setLastInference(s.lastInferenceMillis())
                        .setInferenceCount(s.inferenceCount())
                        .setExecutionCount(s.executionCount())
                        .setInferenceStats(InferStatistics.newBuilder()
                                .setSuccess(duration(s.success)).setFail(duration(s.fail))
                                .setQueue(duration(s.queue)).setComputeInput(duration(s.computeInput))
                                .setComputeInfer(duration(s.computeInfer))
                                .setComputeOutput(duration(s.computeOutput))));
            }
            return b.build();
        });
    }

    private static StatisticDuration duration(ModelStats.Duration d) {
        return StatisticDuration.newBuilder().setCount(d.count()).setNs(d.nanos()).build();
    }

    @Override
    public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> responses) {
        answer(responses, () -> {
            checkRepositoryName(request.getRepositoryName());
            RepositoryIndexResponse.Builder b = RepositoryIndexResponse.newBuilder();
            for (ModelRepository.IndexEntry e : models.index(request.getReady())) {
                b.addModels(RepositoryIndexResponse.ModelIndex.newBuilder().setName(e.name())
                        .setVersion(e.version()).setState(e.state()).setReason(e.reason()));
            }
            return b.build();
        });
    }

    @Override
    public void repositoryModelLoad(RepositoryModelLoadRequest request,
            StreamObserver<RepositoryModelLoadResponse> responses) {
        answer(responses, () -> {
            checkRepositoryName(request.getRepositoryName());
            models.load(request.getModelName());
            return RepositoryModelLoadResponse.getDefaultInstance();
        });
    }

    @Override
    public void repositoryModelUnload(RepositoryModelUnloadRequest request,
            StreamObserver<RepositoryModelUnloadResponse> responses) {
        answer(responses, () -> {
            checkRepositoryName(request.getRepositoryName());
            models.unload(request.getModelName());
            return RepositoryModelUnloadResponse.getDefaultInstance();
        });
    }

    private static void checkRepositoryName(String name) {
        // One repository per server: Triton's "empty means any" and "models" are accepted.
        if (!name.isEmpty() && !name.equals("models")) {
            throw new ModelNotFoundException("unknown repository '" + name + "' (this server has one; leave it empty)");
        }
    }

    /** Runs a unary handler and maps any failure to its status: a request can never kill the server. */
    static <T> void answer(StreamObserver<T> responses, Supplier<T> handler) {
        T response;
        try {
            response = handler.get();
        } catch (RuntimeException e) {
            responses.onError(GrpcErrors.toStatus(e));
            return;
        }
        responses.onNext(response);
        responses.onCompleted();
    }
}
