package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelStatisticsRequest;
import dev.backdoorguard.proto.inference.ModelStatistics;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dynamic batching under concurrency, back-pressure and deadlines. */
class BatchingTest {
    @TempDir
    Path repo;

    private static ModelStatistics stats(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub) {
        return stub.modelStatistics(ModelStatisticsRequest.newBuilder().setName("m").build()).getModelStats(0);
    }

    @Test
    void concurrentRequestsAreBatchedAndAnswerLikeUnbatchedOnes() throws Exception {
        Path bundle = TestServers.writeBundle(repo.resolve("m").resolve("1"), 3);
        ServerConfig config = TestServers.config(repo, Map.of("GUARD_MAX_BATCH", "8", "GUARD_MAX_BATCH_DELAY_MS", "20",
                "GUARD_WORKERS", "1"));
        int requests = 48;
        List<float[]> inputs = new ArrayList<>();
        List<BatchPrediction> expected = new ArrayList<>();
        try (Guard reference = ServerMain.loadBundle(bundle)) {
            for (int i = 0; i < requests; i++) {
                int n = 1 + i % 3;
                inputs.add(TestServers.randomPixels(n, 100 + i));
                expected.add(reference.predict(new PixelBatch(inputs.get(i), n, 1, 8, 8), false));
            }
        }
        try (GuardServer server = ServerMain.start(config, TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            ExecutorService clients = Executors.newFixedThreadPool(12);
            try {
                List<Future<ModelInferResponse>> answers = new ArrayList<>();
                for (int i = 0; i < requests; i++) {
                    float[] pixels = inputs.get(i);
                    answers.add(clients.submit(() -> stub.modelInfer(TestServers.fp32("m", pixels))));
                }
                for (int i = 0; i < requests; i++) {
                    ModelInferResponse r = answers.get(i).get(60, TimeUnit.SECONDS);
                    BatchPrediction e = expected.get(i);
                    List<Float> logits = r.getOutputs(0).getContents().getFp32ContentsList();
                    assertThat(logits).hasSize(e.logits().length);
                    for (int j = 0; j < logits.size(); j++) {
                        assertThat(logits.get(j)).isCloseTo(e.logits()[j], Offset.offset(1e-4f));
                    }
                    assertThat(r.getOutputs(2).getContents().getInt64ContentsList())
                            .containsExactlyElementsOf(java.util.Arrays.stream(e.labels()).mapToObj(l -> (long) l)
                                    .toList());
                }
            } finally {
                clients.shutdownNow();
            }
            ModelStatistics s = stats(stub);
            assertThat(s.getInferenceCount()).isEqualTo(inputs.stream().mapToLong(p -> p.length / 64).sum());
            assertThat(s.getExecutionCount()).as("requests shared model executions").isLessThan(requests);
            TestServers.close(channel);
        }
    }

    @Test
    void aFullQueueAnswersResourceExhaustedAndExpiredRequestsAreDroppedBeforeCompute() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 4);
        ServerConfig config = TestServers.config(repo, Map.of("GUARD_MAX_BATCH", "1", "GUARD_WORKERS", "1",
                "GUARD_QUEUE_CAPACITY", "2", "GUARD_MAX_BATCH_DELAY_MS", "0"));
        try (GuardServer server = ServerMain.start(config, TestServers.slowLoader(Duration.ofMillis(300)))) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            ExecutorService clients = Executors.newFixedThreadPool(8);
            try {
                List<Future<Status.Code>> codes = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    float[] pixels = TestServers.randomPixels(1, i);
                    codes.add(clients.submit(() -> {
                        try {
                            stub.modelInfer(TestServers.fp32("m", pixels));
                            return Status.Code.OK;
                        } catch (StatusRuntimeException e) {
                            return e.getStatus().getCode();
                        }
                    }));
                }
                List<Status.Code> seen = new ArrayList<>();
                for (Future<Status.Code> c : codes) {
                    seen.add(c.get(60, TimeUnit.SECONDS));
                }
                // One computing, two queued: at least five of eight find the queue full.
                assertThat(seen).contains(Status.Code.RESOURCE_EXHAUSTED, Status.Code.OK);
                assertThat(seen.stream().filter(c -> c == Status.Code.RESOURCE_EXHAUSTED).count())
                        .isGreaterThanOrEqualTo(3);
                // A full queue is not an oversized message, although both answer RESOURCE_EXHAUSTED.
                assertThat(java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString()).body())
                        .doesNotContainPattern("(?m)^guard_requests_too_large_total(\\{[^}]*})? [1-9]");

                // Deadlines: one request occupies the worker; the next, with a 100 ms deadline, expires
                // in the queue and must never reach the model.
                long before = stats(stub).getExecutionCount();
                Future<?> blocker = clients.submit(() -> stub.modelInfer(TestServers.fp32("m",
                        TestServers.randomPixels(1, 50))));
                Thread.sleep(50);
                assertThatThrownBy(() -> stub.withDeadlineAfter(100, TimeUnit.MILLISECONDS)
                        .modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 51))))
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
                blocker.get(60, TimeUnit.SECONDS);
                Thread.sleep(400);
                assertThat(stats(stub).getExecutionCount()).as("the expired request was not computed")
                        .isEqualTo(before + 1);
            } finally {
                clients.shutdownNow();
            }
            TestServers.close(channel);
        }
    }
}
