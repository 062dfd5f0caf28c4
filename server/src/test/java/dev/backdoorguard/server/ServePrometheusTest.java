package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.backdoorguard.server.deploy.DeployTree;
import dev.backdoorguard.server.deploy.LocalPrometheus;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.inference.InferParameter;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server scraped by a real Prometheus (Debian {@code prometheus}) running
 * deploy/prometheus/prometheus.yml and its rules: every metric name the rules and the dashboard use
 * (deploy/metrics.txt) is exported by the server, Prometheus stores them under job "guard", and the
 * recording rules evaluate to series.
 */
class ServePrometheusTest {
    private static final Pattern SAMPLE_NAME = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)", Pattern.MULTILINE);

    @TempDir Path repo;
    @TempDir Path prometheusDir;

    @Test
    void prometheusScrapesEverySeriesTheRulesAndDashboardUse() throws Exception {
        TestServers.writeBundle(repo.resolve("m").resolve("1"), 1);
        try (GuardServer server = ServerMain.start(TestServers.config(repo, Map.of()), TestServers.flaggingLoader())) {
            ManagedChannel channel = TestServers.channel(server);
            try {
                sendTraffic(TestServers.stub(channel));
                // jvm_gc_pause_seconds appears with the first collection after the server started, which
                // a long-running server always has; here one is asked for (the notification is async).
                System.gc();
                Set<String> exported = new TreeSet<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (!exported.containsAll(DeployTree.metricsList()) && System.nanoTime() < deadline) {
                    String exposition = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
                            HttpResponse.BodyHandlers.ofString()).body();
                    Matcher m = SAMPLE_NAME.matcher(exposition);
                    while (m.find()) {
                        exported.add(m.group(1));
                    }
                    Thread.sleep(100);
                }
                assertThat(exported).as("names in deploy/metrics.txt exported by guard serve")
                        .containsAll(DeployTree.metricsList());

                try (LocalPrometheus prometheus = LocalPrometheus.start(prometheusDir,
                        "127.0.0.1:" + server.metricsPort(), Duration.ofMillis(500))) {
                    awaitScraped(prometheus, DeployTree.metricsList());
                    // traffic between two scrapes, so that rate() over the recorded window has two points
                    sendTraffic(TestServers.stub(channel));
                    awaitSeries(prometheus, "model:guard_inference_requests:rate5m");
                    awaitSeries(prometheus, "model:guard_inference_items:rate5m");
                    awaitSeries(prometheus, "model_class:guard_predictions:share_rate15m");
                    JsonNode ready = prometheus.query("guard_model_ready{job=\"guard\",model=\"m\"}");
                    assertThat(ready).hasSize(1);
                    assertThat(ready.get(0).path("value").get(1).asText()).isEqualTo("1");
                }
            } finally {
                TestServers.close(channel);
            }
        }
    }

    /** Clean items, one flagged item in flag mode and one in block mode. */
    private static void sendTraffic(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub) {
        for (int i = 0; i < 5; i++) {
            stub.modelInfer(TestServers.fp32("m", TestServers.randomPixels(2, i)));
        }
        float[] flagged = TestServers.randomPixels(2, 99);
        flagged[0] = 1f;
        stub.modelInfer(TestServers.fp32("m", flagged));
        try {
            stub.modelInfer(TestServers.fp32("m", flagged).toBuilder().putParameters("guard.mode",
                    InferParameter.newBuilder().setStringParam("block").build()).build());
        } catch (StatusRuntimeException expected) {
            // FAILED_PRECONDITION: counted as a blocked input and a failed request
        }
    }

    private static void awaitScraped(LocalPrometheus prometheus, Set<String> names) throws Exception {
        Set<String> missing = new TreeSet<>(names);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && !missing.isEmpty()) {
            for (JsonNode series : prometheus.query("count by (__name__) ({job=\"guard\"})")) {
                missing.remove(series.path("metric").path("__name__").asText());
            }
            if (!missing.isEmpty()) {
                Thread.sleep(250);
            }
        }
        assertThat(missing).as("series not scraped by Prometheus; log:\n" + prometheus.log()).isEmpty();
    }

    private static void awaitSeries(LocalPrometheus prometheus, String name) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (prometheus.query(name).size() > 0) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("recording rule " + name + " produced no series; log:\n" + prometheus.log());
    }
}
