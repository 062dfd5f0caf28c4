package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/prometheus/prometheus.yml in a real Prometheus: it loads the rule files and scrapes job "guard" from a
 * loopback endpoint. The endpoint here is SYNTHETIC (one sample per name of deploy/metrics.txt), so this checks the
 * Prometheus side only; that {@code guard serve} exports these names is the integration test's job.
 */
class PrometheusScrapeTest {
    private HttpServer metrics;
    private LocalPrometheus prometheus;

    @TempDir Path tmp;

    @BeforeEach
    void start() throws Exception {
        byte[] exposition = exposition().getBytes(StandardCharsets.UTF_8);
        metrics = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        metrics.createContext("/metrics", exchange -> {
            exchange.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, exposition.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(exposition);
            }
        });
        metrics.start();
        prometheus = LocalPrometheus.start(
                tmp, "127.0.0.1:" + metrics.getAddress().getPort(), Duration.ofMillis(500));
    }

    @AfterEach
    void stop() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (metrics != null) {
            metrics.stop(0);
        }
    }

    @Test
    void scrapesJobGuardAndLoadsEveryRule() throws Exception {
        JsonNode up = awaitUp();

        assertThat(up.path("metric").path("job").asText()).isEqualTo("guard");
        Set<String> scraped = new TreeSet<>();
        for (JsonNode series : prometheus.query("count by (__name__) ({job=\"guard\", __name__!~\"up|scrape_.*\"})")) {
            scraped.add(series.path("metric").path("__name__").asText());
        }
        assertThat(scraped).isEqualTo(new TreeSet<>(DeployTree.metricsList()));
        int loaded = 0;
        for (JsonNode group : prometheus.api("/api/v1/rules").path("groups")) {
            loaded += group.path("rules").size();
        }
        assertThat(loaded).as(prometheus.log()).isEqualTo(PrometheusRulesTest.rules().size());
    }

    private JsonNode awaitUp() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode result = prometheus.query("up{job=\"guard\"} == 1");
            if (result.size() == 1) {
                return result.get(0);
            }
            Thread.sleep(250);
        }
        throw new AssertionError("job guard never up:\n" + prometheus.log());
    }

    /** Prometheus text format: one untyped sample per listed name (buckets need an `le`). */
    private static String exposition() {
        StringBuilder text = new StringBuilder();
        for (String name : DeployTree.metricsList()) {
            String labels = name.endsWith("_bucket") ? "{model=\"m\",le=\"+Inf\"}" : "{model=\"m\"}";
            text.append(name).append(labels).append(" 1\n");
        }
        return text.toString();
    }
}
