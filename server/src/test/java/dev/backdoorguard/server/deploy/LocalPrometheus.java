package dev.backdoorguard.server.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A real Prometheus (Debian package {@code prometheus}) on a loopback port, running deploy/prometheus/prometheus.yml
 * with its rule files and only the scrape target and interval replaced: the harness for tests that scrape a
 * {@code /metrics} endpoint (a synthetic one here, {@code guard serve} in the integration test).
 */
public final class LocalPrometheus implements AutoCloseable {
    private static final String CONFIG_TARGET = "\"127.0.0.1:9464\"";
    private static final String CONFIG_INTERVAL = "scrape_interval: 15s";
    private static final String CONFIG_RULES = "- rules/*.yml";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final URI base;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private LocalPrometheus(Process process, URI base, Path log) {
        this.process = process;
        this.base = base;
        this.log = log;
    }

    /**
     * Starts Prometheus in {@code workDir} (config copy, TSDB, log) scraping {@code target} ("host:port") every
     * {@code scrapeInterval}, and waits until it is ready.
     */
    public static LocalPrometheus start(Path workDir, String target, Duration scrapeInterval)
            throws IOException, InterruptedException {
        Path binary = Promtool.onPath("prometheus");
        String config = Files.readString(DeployTree.deploy().resolve("prometheus/prometheus.yml"));
        Path rules = DeployTree.deploy().resolve("prometheus/rules");
        config = replaceOnce(config, CONFIG_TARGET, "\"" + target + "\"");
        config = replaceOnce(config, CONFIG_INTERVAL, "scrape_interval: " + scrapeInterval.toMillis() + "ms");
        config = replaceOnce(config, CONFIG_RULES, "- " + rules.toAbsolutePath() + "/*.yml");
        Path configFile = workDir.resolve("prometheus.yml");
        Files.writeString(configFile, config);

        int port = freePort();
        Path log = workDir.resolve("prometheus.log");
        Process process = new ProcessBuilder(
                        binary.toString(),
                        "--config.file=" + configFile,
                        "--storage.tsdb.path=" + workDir.resolve("data"),
                        "--web.listen-address=127.0.0.1:" + port,
                        "--log.level=warn")
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        LocalPrometheus prometheus = new LocalPrometheus(process, URI.create("http://127.0.0.1:" + port), log);
        try {
            prometheus.awaitReady();
            return prometheus;
        } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
            prometheus.close();
            throw e;
        }
    }

    /** The {@code data.result} of an instant query. */
    public JsonNode query(String promql) throws IOException, InterruptedException {
        return api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).path("result");
    }

    /** The {@code data} of a GET on the HTTP API, failing on any status but success. */
    public JsonNode api(String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(
                HttpRequest.newBuilder(base.resolve(pathAndQuery)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(response.body());
        if (response.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
            throw new AssertionError("GET " + pathAndQuery + " -> " + response.statusCode() + " " + response.body());
        }
        return body.path("data");
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("prometheus exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                HttpResponse<Void> r = http.send(
                        HttpRequest.newBuilder(base.resolve("/-/ready")).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYetListening) {
                // retried until the deadline
            }
            Thread.sleep(200);
        }
        throw new AssertionError("prometheus not ready after " + START_TIMEOUT + ":\n" + log());
    }

    /** An ephemeral port for Prometheus, which cannot report one it picked itself. */
    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static String replaceOnce(String text, String from, String to) {
        int at = text.indexOf(from);
        if (at < 0 || text.indexOf(from, at + 1) >= 0) {
            throw new IllegalStateException("prometheus.yml must contain " + from + " exactly once");
        }
        return text.substring(0, at) + to + text.substring(at + from.length());
    }
}
