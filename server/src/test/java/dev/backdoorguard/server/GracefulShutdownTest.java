package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.DetectorSummary;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.Inspection;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ServerLiveRequest;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.proto.v1.InspectRequest;
import dev.backdoorguard.proto.v1.InspectResponse;
import dev.backdoorguard.server.repository.ModelLoader;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graceful shutdown drains every call of the inference and guard services the transport had accepted, also those
 * whose handler has not run yet (request still arriving, start queued behind a busy call executor); it does not
 * wait for long-lived streams (health Watch, reflection).
 */
class GracefulShutdownTest {
    /** How long each test lets the drain decide before it lets a held call go on (the drain polls every 20 ms). */
    private static final Duration DRAIN_DECIDES = Duration.ofSeconds(1);

    @TempDir Path repo;

    @Test
    void shutdownWaitsForACallWhoseRequestIsStillArriving() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.realLoader());
        ManagedChannel channel = TestServers.channel(server);
        try {
            HeldCall held = HeldCall.accepted(channel, TestServers.fp32("m", TestServers.randomPixels(1, 5)));

            CompletableFuture<Void> closed = CompletableFuture.runAsync(server::close);
            awaitEither(held.ended(), closed);
            held.call().halfClose();

            Status status = held.ended().get(30, TimeUnit.SECONDS);
            assertThat(status.getCode()).as("the held call, %s", status).isEqualTo(Status.Code.OK);
            closed.get(30, TimeUnit.SECONDS);
        } finally {
            server.close();
            TestServers.close(channel);
        }
    }

    @Test
    void shutdownWaitsForInspectionsInProgressAndForACallQueuedBehindThem() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        Semaphore inspecting = new Semaphore(0);
        CountDownLatch release = new CountDownLatch(1);
        GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_WORKERS", "1")),
                heldInspections(inspecting, release));
        ManagedChannel channel = TestServers.channel(server);
        try {
            // The call executor has max(4, 2 × workers) = 4 threads (ServerMain); inspections hold three of them.
            GuardGrpc.GuardFutureStub guard = GuardGrpc.newFutureStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
            List<ListenableFuture<InspectResponse>> inspections = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                inspections.add(guard.inspect(inspectRequest(i)));
            }
            assertThat(inspecting.tryAcquire(3, 30, TimeUnit.SECONDS)).as("three inspections started").isTrue();
            HeldCall held = HeldCall.accepted(channel, TestServers.fp32("m", TestServers.randomPixels(1, 7)));
            inspections.add(guard.inspect(inspectRequest(3)));
            assertThat(inspecting.tryAcquire(30, TimeUnit.SECONDS)).as("the fourth inspection started").isTrue();
            // Every thread is busy: the half-close, and with it the handler, waits in the executor's queue.
            held.call().halfClose();

            CompletableFuture<Void> closed = CompletableFuture.runAsync(server::close);
            awaitEither(whenDone(inspections.get(0)), closed);
            release.countDown();

            for (ListenableFuture<InspectResponse> inspection : inspections) {
                assertThat(inspection.get(30, TimeUnit.SECONDS).getModelName()).isEqualTo("m");
            }
            Status status = held.ended().get(30, TimeUnit.SECONDS);
            assertThat(status.getCode()).as("the queued call, %s", status).isEqualTo(Status.Code.OK);
            closed.get(30, TimeUnit.SECONDS);
        } finally {
            release.countDown();
            server.close();
            TestServers.close(channel);
        }
    }

    @Test
    void shutdownDoesNotWaitForLongLivedStreams() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        // A drain timeout far beyond the wait below: only the end of the drained calls can end the drain in time.
        GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_DRAIN_SECONDS", "600")),
                TestServers.realLoader());
        ManagedChannel channel = TestServers.channel(server);
        try {
            CompletableFuture<HealthCheckResponse> watching = new CompletableFuture<>();
            HealthGrpc.newStub(channel).watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
                @Override
                public void onNext(HealthCheckResponse r) {
                    watching.complete(r);
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {}
            });
            StreamObserver<ServerReflectionRequest> reflection = ServerReflectionGrpc.newStub(channel)
                    .serverReflectionInfo(new StreamObserver<ServerReflectionResponse>() {
                        @Override
                        public void onNext(ServerReflectionResponse r) {}

                        @Override
                        public void onError(Throwable t) {}

                        @Override
                        public void onCompleted() {}
                    });
            reflection.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
            watching.get(30, TimeUnit.SECONDS);
            TestServers.stub(channel).modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 3)));

            CompletableFuture.runAsync(server::close).get(60, TimeUnit.SECONDS);
        } finally {
            server.close();
            TestServers.close(channel);
        }
    }

    /** A ModelInfer call the server has accepted, whose request has arrived all but its end (no half-close yet). */
    private record HeldCall(ClientCall<ModelInferRequest, ModelInferResponse> call, CompletableFuture<Status> ended) {
        static HeldCall accepted(ManagedChannel channel, ModelInferRequest request) {
            ClientCall<ModelInferRequest, ModelInferResponse> call = channel.newCall(
                    GRPCInferenceServiceGrpc.getModelInferMethod(),
                    CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
            CompletableFuture<Status> ended = new CompletableFuture<>();
            call.start(new ClientCall.Listener<>() {
                @Override
                public void onClose(Status status, Metadata trailers) {
                    ended.complete(status);
                }
            }, new Metadata());
            call.request(1);
            call.sendMessage(request);  // a unary handler runs only at the half-close
            // A later call on the same connection flushes this one's frames and is read after them: once it is
            // answered, the server's transport has accepted this call.
            TestServers.stub(channel).serverLive(ServerLiveRequest.getDefaultInstance());
            return new HeldCall(call, ended);
        }
    }

    /**
     * Waits until {@code call} ends or {@code closed} completes, at most {@link #DRAIN_DECIDES}: time for a drain that
     * did not count the held calls to cancel them. When the drain counts them, neither happens and the wait runs out.
     */
    private static void awaitEither(CompletableFuture<?> call, CompletableFuture<Void> closed) throws Exception {
        try {
            CompletableFuture.anyOf(call, closed).get(DRAIN_DECIDES.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException stillHeld) {
            // the expected case: the drain is waiting for the held calls
        }
    }

    /** Completes (with no value) when {@code future} does, whatever its outcome. */
    private static CompletableFuture<Void> whenDone(ListenableFuture<?> future) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        future.addListener(() -> done.complete(null), Runnable::run);
        return done;
    }

    private static InspectRequest inspectRequest(long seed) {
        ByteBuffer raw = ByteBuffer.allocate(TestServers.PIXELS * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : TestServers.randomPixels(1, seed)) {
            raw.putFloat(v);
        }
        return InspectRequest.newBuilder().setModelName("m").setDatatype("FP32").addShape(1).addShape(1)
                .addShape(8).addShape(8).setData(ByteString.copyFrom(raw.array())).build();
    }

    /** Guards whose inspections signal {@code inspecting} on entry, then wait for {@code release}. */
    private static ModelLoader heldInspections(Semaphore inspecting, CountDownLatch release) {
        return dir -> {
            Guard inner = new TestServers.FlaggingGuard(ServerMain.loadBundle(dir), Duration.ZERO);
            return new Guard() {
                @Override
                public ModelSpec spec() {
                    return inner.spec();
                }

                @Override
                public boolean hasDetector() {
                    return inner.hasDetector();
                }

                @Override
                public Optional<DetectorSummary> detector() {
                    return inner.detector();
                }

                @Override
                public BatchPrediction predict(PixelBatch batch, boolean guard) {
                    return inner.predict(batch, guard);
                }

                @Override
                public Inspection inspect(PixelBatch image) {
                    inspecting.release();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return inner.inspect(image);
                }

                @Override
                public void close() {
                    inner.close();
                }
            };
        };
    }
}
