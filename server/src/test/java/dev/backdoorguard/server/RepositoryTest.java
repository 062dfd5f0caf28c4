package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.ModelMetadataRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelReadyRequest;
import dev.backdoorguard.proto.inference.RepositoryIndexRequest;
import dev.backdoorguard.proto.inference.RepositoryIndexResponse;
import dev.backdoorguard.proto.inference.RepositoryModelLoadRequest;
import dev.backdoorguard.proto.inference.RepositoryModelUnloadRequest;
import dev.backdoorguard.proto.inference.ServerReadyRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hot reload under load, failed reloads, unload, health transitions and path safety. */
class RepositoryTest {
    @TempDir
    Path repo;

    private static ServingStatus health(ManagedChannel channel, String service) {
        return HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.newBuilder().setService(service).build())
                .getStatus();
    }

    private static void load(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub, String name) {
        stub.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder().setModelName(name).build());
    }

    @Test
    void reloadsUnderLoadWithoutAFailedRequestAndAFailedReloadKeepsTheOldVersion() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger ok = new AtomicInteger();
            Set<String> versionsSeen = ConcurrentHashMap.newKeySet();
            ExecutorService clients = Executors.newFixedThreadPool(4);
            try {
                Future<?>[] load = new Future<?>[4];
                for (int t = 0; t < load.length; t++) {
                    int seed = t;
                    load[t] = clients.submit(() -> {
                        while (running.get()) {
                            ModelInferResponse r = stub.modelInfer(TestServers.fp32("m",
                                    TestServers.randomPixels(2, seed)));  // any failure ends this task with it
                            versionsSeen.add(r.getModelVersion());
                            ok.incrementAndGet();
                        }
                        return null;
                    });
                }
                Thread.sleep(200);
                TestServers.writeBundle(repo.resolve("m").resolve("2"), 2);
                load(stub, "m");
                assertThat(stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("m").build())
                        .getVersionsList()).containsExactly("2");
                int afterFirstSwap = ok.get();
                // Another swap under load: reload of the same version.
                load(stub, "m");
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (ok.get() < afterFirstSwap + 20 && System.nanoTime() < until) {
                    Thread.sleep(20);
                }
                running.set(false);
                for (Future<?> f : load) {
                    f.get(60, TimeUnit.SECONDS);  // rethrows the first failed request, if any
                }
            } finally {
                running.set(false);
                clients.shutdownNow();
            }
            assertThat(versionsSeen).contains("1", "2");
            assertThat(ok.get()).isGreaterThan(20);

            // A broken version 3: the load fails, says why, and version 2 keeps serving.
            Path broken = Files.createDirectories(repo.resolve("m").resolve("3"));
            Files.copy(repo.resolve("m/2/model.json"), broken.resolve("model.json"));
            Files.writeString(broken.resolve("weights.safetensors"), "not safetensors");
            assertThatThrownBy(() -> load(stub, "m")).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
                assertThat(e.getStatus().getDescription()).contains("version 3", "failed");
            });
            assertThat(stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 9))).getModelVersion())
                    .isEqualTo("2");
            RepositoryIndexResponse.ModelIndex index = stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                    .getModels(0);
            assertThat(index.getVersion()).isEqualTo("2");
            assertThat(index.getState()).isEqualTo("READY");
            assertThat(index.getReason()).contains("version 3");
            assertThat(health(channel, "m")).isEqualTo(ServingStatus.SERVING);
            TestServers.close(channel);
        }
    }

    @Test
    void unloadAndLoadMoveHealthAndReadiness() throws Exception {
        TestServers.writeBundle(repo.resolve("a").resolve("1"), 1);
        TestServers.writeBundle(repo.resolve("b").resolve("4"), 2);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            assertThat(health(channel, "")).isEqualTo(ServingStatus.SERVING);
            assertThat(health(channel, "inference.GRPCInferenceService")).isEqualTo(ServingStatus.SERVING);
            assertThat(health(channel, "b")).isEqualTo(ServingStatus.SERVING);

            stub.repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder().setModelName("b").build());
            assertThat(health(channel, "b")).isEqualTo(ServingStatus.NOT_SERVING);
            assertThat(health(channel, "a")).isEqualTo(ServingStatus.SERVING);
            // An unloaded model no longer counts for the server's readiness (Triton's rule): the
            // readiness probe must not take model a out of service because b was unloaded on purpose.
            assertThat(health(channel, "")).isEqualTo(ServingStatus.SERVING);
            assertThat(health(channel, "inference.GRPCInferenceService")).isEqualTo(ServingStatus.SERVING);
            assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
            assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("b").build()).getReady()).isFalse();
            assertThatThrownBy(() -> stub.modelInfer(TestServers.fp32("b", TestServers.randomPixels(1, 1))))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            assertThat(stub.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build())
                    .getModelsList()).extracting(RepositoryIndexResponse.ModelIndex::getName).containsExactly("a");
            // Nor for the metrics: no guard_model_ready series left at 0, which would keep GuardModelNotReady firing.
            assertThat(metrics(server)).contains("guard_model_ready{model=\"a\"")
                    .doesNotContain("guard_model_ready{model=\"b\"");

            load(stub, "b");
            assertThat(metrics(server)).containsPattern("guard_model_ready\\{model=\"b\",version=\"4\"} 1");
            assertThat(health(channel, "")).isEqualTo(ServingStatus.SERVING);
            assertThat(stub.modelInfer(TestServers.fp32("b", TestServers.randomPixels(1, 1))).getModelVersion())
                    .isEqualTo("4");

            for (String evil : new String[] {"../a", "a/1", "..", ".hidden"}) {
                assertThatThrownBy(() -> load(stub, evil)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("model name");
                });
            }
            assertThatThrownBy(() -> load(stub, "absent")).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
            TestServers.close(channel);
        }
    }

    @Test
    void oneBundleIsServedUnderItsDirectoryNameOrAChosenOne() throws Exception {
        Path bundle = TestServers.writeBundle(repo.resolve("my-bundle"), 5);
        Map<String, String> s = new java.util.HashMap<>(Map.of("GUARD_MODEL", bundle.toString(), "GUARD_PORT", "0",
                "GUARD_METRICS_PORT", "-1"));
        try (GuardServer server = ServerMain.start(ServerConfig.from(s, repo), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            assertThat(TestServers.stub(channel).modelInfer(TestServers.fp32("my-bundle",
                    TestServers.randomPixels(1, 1))).getModelVersion()).isEqualTo("1");
            assertThat(server.metricsPort()).isEqualTo(-1);
            // A bundle without a calibrated detector: DetectorInfo says so, Inspect refuses, inference
            // reports guard.detector = none.
            dev.backdoorguard.proto.v1.GuardGrpc.GuardBlockingStub guard =
                    dev.backdoorguard.proto.v1.GuardGrpc.newBlockingStub(channel);
            assertThat(guard.detectorInfo(dev.backdoorguard.proto.v1.DetectorInfoRequest.newBuilder()
                    .setModelName("my-bundle").build()).getPresent()).isFalse();
            assertThatThrownBy(() -> guard.inspect(dev.backdoorguard.proto.v1.InspectRequest.newBuilder()
                    .setModelName("my-bundle").setDatatype("UINT8").addShape(1).addShape(1).addShape(8).addShape(8)
                    .setData(com.google.protobuf.ByteString.copyFrom(new byte[64])).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                        assertThat(e.getStatus().getDescription()).contains("no calibrated detector");
                    });
            assertThat(TestServers.stub(channel).modelInfer(TestServers.fp32("my-bundle",
                    TestServers.randomPixels(1, 1))).getParametersMap().get("guard.detector").getStringParam())
                    .isEqualTo("none");
            TestServers.close(channel);
        }
        s.put("GUARD_MODEL_NAME", "fmnist");
        try (GuardServer server = ServerMain.start(ServerConfig.from(s, repo), TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            assertThat(TestServers.stub(channel).modelReady(ModelReadyRequest.newBuilder().setName("fmnist").build())
                    .getReady()).isTrue();
            TestServers.close(channel);
        }
    }

    private static String servedVersion(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub, String name) {
        for (RepositoryIndexResponse.ModelIndex m : stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                .getModelsList()) {
            if (m.getName().equals(name) && m.getState().equals("READY")) {
                return m.getVersion();
            }
        }
        return "";
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() < until).as("timed out waiting: " + what).isTrue();
            Thread.sleep(50);
        }
    }

    @Test
    void theWatchLoadsNewVersionsAndModelsKeepsServingThroughABrokenOneAndUnloadsRemovedModels() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of("GUARD_WATCH_INTERVAL_MS", "100")),
                TestServers.realLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = TestServers.stub(channel);
            try {
                // A new version, written elsewhere and renamed into place as the --help advises.
                TestServers.writeBundle(repo.resolve("m").resolve(".incoming"), 2);
                Files.move(repo.resolve("m").resolve(".incoming"), repo.resolve("m").resolve("2"));
                await("version 2 of m", () -> servedVersion(stub, "m").equals("2"));
                assertThat(stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 1))).getModelVersion())
                        .isEqualTo("2");

                // A broken version 3: version 2 keeps serving, the failure is reported and not retried.
                Files.createDirectories(repo.resolve("m").resolve("3"));
                Files.writeString(repo.resolve("m").resolve("3").resolve("model.json"), "{ broken");
                await("the failed load of version 3 reported", () -> stub.repositoryIndex(
                        RepositoryIndexRequest.getDefaultInstance()).getModelsList().stream()
                        .anyMatch(e -> e.getName().equals("m") && e.getReason().contains("version 3")));
                assertThat(servedVersion(stub, "m")).isEqualTo("2");
                assertThat(stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(1, 2))).getModelVersion())
                        .isEqualTo("2");

                // A new model appears, then disappears.
                TestServers.writeBundle(repo.resolve("n").resolve("1"), 3);
                await("model n loaded", () -> servedVersion(stub, "n").equals("1"));
                assertThat(health(channel, "n")).isEqualTo(ServingStatus.SERVING);
                deleteTree(repo.resolve("n"));
                await("model n unloaded", () -> servedVersion(stub, "n").isEmpty());
                assertThat(health(channel, "n")).isEqualTo(ServingStatus.NOT_SERVING);
                assertThat(health(channel, "")).isEqualTo(ServingStatus.SERVING);
                assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
                assertThatThrownBy(() -> stub.modelInfer(TestServers.fp32("n", TestServers.randomPixels(1, 3))))
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isIn(Status.Code.UNAVAILABLE,
                                        Status.Code.NOT_FOUND));
                assertThat(servedVersion(stub, "m")).isEqualTo("2");

                // ... and comes back: loaded again (it used to stay unloaded, with no alert once its readiness
                // series was removed).
                TestServers.writeBundle(repo.resolve("n").resolve("1"), 3);
                await("model n loaded again", () -> servedVersion(stub, "n").equals("1"));
                assertThat(health(channel, "n")).isEqualTo(ServingStatus.SERVING);
            } finally {
                TestServers.close(channel);
            }
        }
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static String metrics(GuardServer server) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }
}
