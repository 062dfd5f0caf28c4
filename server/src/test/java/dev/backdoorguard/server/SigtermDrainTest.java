package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard serve} as its own process under load, stopped with SIGTERM: requests in flight
 * finish, later ones are refused as UNAVAILABLE (never cancelled half-way or failed otherwise), and
 * the process exits cleanly within the drain timeout.
 */
class SigtermDrainTest {
    @TempDir Path repo;

    @Test
    void sigtermUnderLoadDrainsAndExitsCleanly() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Path log = repo.resolve("serve.log");
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                ServerMain.class.getName(), "--model-repository", repo.toString(), "--port", Integer.toString(port),
                "--metrics-port", "-1", "--workers", "1", "--torch-threads", "1", "--drain-seconds", "20")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        ExecutorService clients = Executors.newFixedThreadPool(8);
        try {
            awaitServing(channel, server, log);
            GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub =
                    GRPCInferenceServiceGrpc.newBlockingStub(channel);
            AtomicBoolean running = new AtomicBoolean(true);
            java.util.Set<String> descriptions = java.util.concurrent.ConcurrentHashMap.newKeySet();
            List<Future<Map<Status.Code, Integer>>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int seed = t;
                results.add(clients.submit(() -> {
                    Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
                    while (running.get()) {
                        Status.Code code;
                        try {
                            stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                                    .modelInfer(TestServers.fp32("m", TestServers.randomPixels(16, seed)));
                            code = Status.Code.OK;
                        } catch (StatusRuntimeException e) {
                            code = e.getStatus().getCode();
                            descriptions.add(code + ": " + e.getStatus().getDescription());
                            Thread.sleep(10);  // the server is gone or going: do not spin
                        }
                        codes.merge(code, 1, Integer::sum);
                    }
                    return codes;
                }));
            }
            Thread.sleep(1500);
            server.destroy();  // SIGTERM
            assertThat(server.waitFor(30, TimeUnit.SECONDS)).as("exited within the drain timeout").isTrue();
            Thread.sleep(300);
            running.set(false);
            Map<Status.Code, Integer> all = new EnumMap<>(Status.Code.class);
            for (Future<Map<Status.Code, Integer>> f : results) {
                f.get(60, TimeUnit.SECONDS).forEach((k, v) -> all.merge(k, v, Integer::sum));
            }
            assertThat(all.get(Status.Code.OK)).as("answered before the stop, %s", all).isGreaterThan(20);
            assertThat(all.keySet()).as("only answers and refusals, %s %s; server log:%n%s", all, descriptions,
                    Files.readString(log)).isSubsetOf(Status.Code.OK, Status.Code.UNAVAILABLE);
            assertThat(server.exitValue()).as(Files.readString(log)).isIn(0, 143);
            // The server's own account: it drained (nothing still in flight had to be cancelled) and stopped.
            assertThat(Files.readString(log)).contains("shutting down: draining", "stopped")
                    .doesNotContain("cancelling them");
        } finally {
            clients.shutdownNow();
            channel.shutdownNow();
            server.destroyForcibly();
        }
    }

    private static void awaitServing(ManagedChannel channel, Process server, Path log) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < until) {
            assertThat(server.isAlive()).as("server died: %s", Files.exists(log) ? Files.readString(log) : "").isTrue();
            try {
                if (HealthGrpc.newBlockingStub(channel).withDeadlineAfter(1, TimeUnit.SECONDS)
                        .check(HealthCheckRequest.getDefaultInstance()).getStatus() == ServingStatus.SERVING) {
                    return;
                }
            } catch (StatusRuntimeException notYet) {
                // still starting
            }
            Thread.sleep(100);
        }
        throw new AssertionError("server did not become SERVING: " + Files.readString(log));
    }
}
