package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prometheus metrics over HTTP, reflection, and graceful shutdown with requests in flight. */
class OperationsTest {
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)$");

    @TempDir
    Path repo;

    /** Parses the text exposition format: every sample line must parse; returns name → label sets. */
    private static Map<String, List<String>> parse(String body) {
        Map<String, List<String>> samples = new java.util.HashMap<>();
        for (String line : body.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as("sample line parses: %s", line).isTrue();
            Double.parseDouble(m.group(3).replace("+Inf", "Infinity").replace("-Inf", "-Infinity"));
            samples.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(m.group(2) == null ? "" : m.group(2));
        }
        return samples;
    }

    @Test
    void everyListenerBindsTheBindAddress() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer local = ServerMain.start(TestServers.config(repo, Map.of("GUARD_BIND_ADDRESS", "127.0.0.1",
                "GUARD_HEALTH_PORT", "0")), TestServers.flaggingLoader());
                GuardServer all = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.flaggingLoader())) {
            assertThat(local.listenAddresses()).hasSize(3).allSatisfy(a ->
                    assertThat(((java.net.InetSocketAddress) a).getAddress().isLoopbackAddress()).as(a.toString()).isTrue());
            assertThat(all.listenAddresses()).hasSize(2).allSatisfy(a ->
                    assertThat(((java.net.InetSocketAddress) a).getAddress().isAnyLocalAddress()).as(a.toString()).isTrue());
            ManagedChannel channel = TestServers.channel(local);
            assertThat(TestServers.stub(channel).modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 1)))
                    .getOutputsCount()).isEqualTo(5);
            TestServers.close(channel);
        }
    }

    @Test
    void metricsEndpointServesTheGuardMetersInPrometheusFormat() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.flaggingLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            float[] pixels = TestServers.randomPixels(2, 1);
            pixels[0] = 1f;
            stub.modelInfer(TestServers.fp32("m", pixels));
            try {
                stub.modelInfer(TestServers.fp32("m", pixels).toBuilder().putParameters("guard.mode",
                        InferParameter.newBuilder().setStringParam("block").build()).build());
            } catch (StatusRuntimeException expected) {
                assertThat(expected.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            }
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            Map<String, List<String>> samples = parse(response.body());
            assertThat(samples.keySet()).contains(
                    "guard_inference_requests_total",
                    "guard_inference_items_total",
                    "guard_inference_executions_total",
                    "guard_inference_request_seconds_bucket",
                    "guard_inference_request_seconds_count",
                    "guard_inference_queue_seconds_bucket",
                    "guard_inference_compute_seconds_bucket",
                    "guard_inference_pending",
                    "guard_batch_size_count",
                    "guard_detector_score_count",
                    "guard_detector_seconds_count",
                    "guard_inputs_flagged_total",
                    "guard_predictions_total",
                    "guard_model_ready",
                    "guard_model_load_seconds_count",
                    "guard_model_reloads_total",
                    "guard_build_info",
                    "jvm_memory_used_bytes",
                    "process_cpu_usage",
                    "grpc_server_processing_duration_seconds_count");
            assertThat(samples.get("guard_inference_requests_total")).anyMatch(l -> l.contains("outcome=\"success\""))
                    .anyMatch(l -> l.contains("reason=\"FAILED_PRECONDITION\""));
            assertThat(samples.get("guard_inputs_flagged_total")).anyMatch(l -> l.contains("action=\"flag\""))
                    .anyMatch(l -> l.contains("action=\"block\""));
            assertThat(samples.get("guard_model_ready")).singleElement()
                    .satisfies(l -> assertThat(l).contains("model=\"m\"", "version=\"1\""));
            assertThat(samples.get("guard_model_reloads_total")).singleElement()
                    .satisfies(l -> assertThat(l).contains("model=\"m\"", "result=\"success\""));
            assertThat(response.body()).containsPattern("guard_model_ready\\{[^}]*} 1");
            TestServers.close(channel);
        }
    }

    @Test
    void reflectionListsTheServices() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            CompletableFuture<List<String>> names = new CompletableFuture<>();
            StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
                    .serverReflectionInfo(new StreamObserver<>() {
                        @Override
                        public void onNext(ServerReflectionResponse r) {
                            names.complete(r.getListServicesResponse().getServiceList().stream()
                                    .map(ServiceResponse::getName).toList());
                        }

                        @Override
                        public void onError(Throwable t) {
                            names.completeExceptionally(t);
                        }

                        @Override
                        public void onCompleted() {}
                    });
            requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());
            assertThat(names.get(30, TimeUnit.SECONDS)).contains("inference.GRPCInferenceService", "guard.v1.Guard",
                    "grpc.health.v1.Health");
            requests.onCompleted();
            TestServers.close(channel);
        }
    }

    @Test
    void messagesAboveTheInboundLimitAreRefusedAndTheServerKeepsServing() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_MAX_MESSAGE_BYTES", "2000")),
                TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            // 8 images x 256 raw bytes = 2 KiB of pixels plus framing: over the 2000-byte limit.
            try {
                stub.modelInfer(TestServers.fp32Raw("m", TestServers.randomPixels(8, 1)));
                throw new AssertionError("an oversized message was accepted");
            } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            }
            assertThat(stub.modelInfer(TestServers.fp32Raw("m", TestServers.randomPixels(1, 2))).getOutputsCount())
                    .isEqualTo(5);
            // Counted as what the client got: the interceptors only see a cancellation.
            String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).containsPattern("(?m)^guard_requests_too_large_total(\\{[^}]*})? 1\\.0$");
            TestServers.close(channel);
        }
    }

    @Test
    void shutdownDrainsRequestsInFlightAndRefusesNewOnes() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_WORKERS", "1",
                "GUARD_MAX_BATCH", "2", "GUARD_MAX_BATCH_DELAY_MS", "0")), TestServers.slowLoader(Duration.ofMillis(150)));
        ManagedChannel channel = TestServers.channel(server);
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        ExecutorService clients = Executors.newFixedThreadPool(6);
        try {
            List<Future<ModelInferResponse>> inFlight = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                float[] pixels = TestServers.randomPixels(1, i);
                inFlight.add(clients.submit(() -> stub.modelInfer(TestServers.fp32("m", pixels))));
            }
            Thread.sleep(100);  // all six sent; at most two computed so far
            List<HealthCheckResponse.ServingStatus> watched = new java.util.concurrent.CopyOnWriteArrayList<>();
            HealthGrpc.newStub(channel).watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
                @Override
                public void onNext(HealthCheckResponse r) {
                    watched.add(r.getStatus());
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {}
            });
            Thread.sleep(100);
            CompletableFuture<Void> closed = CompletableFuture.runAsync(server::close);
            for (Future<ModelInferResponse> f : inFlight) {
                assertThat(f.get(30, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(5);
            }
            closed.get(30, TimeUnit.SECONDS);
            assertThat(watched).as("health went NOT_SERVING when shutdown began")
                    .containsSubsequence(HealthCheckResponse.ServingStatus.SERVING,
                            HealthCheckResponse.ServingStatus.NOT_SERVING);
        } finally {
            clients.shutdownNow();
        }
        Set<Status.Code> after = new HashSet<>();
        try {
            stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 9)));
        } catch (StatusRuntimeException e) {
            after.add(e.getStatus().getCode());
        }
        assertThat(after).containsExactly(Status.Code.UNAVAILABLE);
        TestServers.close(channel);
    }
    @Test
    void shutdownRunsABatchThatWasWaitingForCompanyAtOnceInsteadOfWaitingOutItsDelay() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        // A lone request would wait a second for company (the longest --max-batch-delay-ms allowed); shutdown
        // begins 300 ms after it was sent.
        GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_WORKERS", "1",
                "GUARD_MAX_BATCH", "8", "GUARD_MAX_BATCH_DELAY_MS", "1000", "GUARD_DRAIN_SECONDS", "10")),
                TestServers.realLoader());
        ManagedChannel channel = TestServers.channel(server);
        ExecutorService client = Executors.newSingleThreadExecutor();
        try {
            TestServers.stub(channel).modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 3))); // warm
            long sent = System.nanoTime();
            Future<Long> lone = client.submit(() -> {
                TestServers.stub(channel).modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 3)));
                return System.nanoTime();
            });
            Thread.sleep(300);  // queued and taken by the worker, which is now waiting for company
            assertThat(lone.isDone()).isFalse();
            server.close();
            // Answered well before its one-second delay ran out: the batch ran as soon as shutdown began. (Without
            // the wake-up the answer comes at least 1000 ms after the send; a slow sleep cannot make this pass.)
            assertThat(Duration.ofNanos(lone.get(5, TimeUnit.SECONDS) - sent)).isLessThan(Duration.ofMillis(900));
        } finally {
            client.shutdownNow();
            TestServers.close(channel);
        }
    }
}
