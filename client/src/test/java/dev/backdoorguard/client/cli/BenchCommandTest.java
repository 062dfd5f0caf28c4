package dev.backdoorguard.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.backdoorguard.client.CannedInferenceServer;
import dev.backdoorguard.client.load.LoadReport;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code guard bench} end to end against {@link CannedInferenceServer}: the JSON report, the table, bad input. */
class BenchCommandTest {
    private CannedInferenceServer server;

    @BeforeEach
    void start() throws IOException {
        server = CannedInferenceServer.plaintext();
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
    }

    @Test
    void jsonReportAddsUp() throws IOException {
        CliRun run = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--requests", "30",
                "--concurrency", "3", "--batch", "4", "--triggered", "0.5", "--json", "--progress-every", "100ms");

        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(run.out());
        assertThat(json.get("loop").asText()).isEqualTo("closed");
        assertThat(json.get("sent").asLong()).isEqualTo(30);
        assertThat(json.get("ok").asLong()).isEqualTo(30);
        assertThat(json.get("errors").size()).isZero();
        assertThat(json.get("items").asLong()).isEqualTo(120);
        assertThat(json.get("requests_per_second").asDouble()).isPositive();
        assertThat(json.get("latency_ms").fieldNames()).toIterable()
                .containsExactly("p50", "p90", "p99", "p99.9", "max", "mean");
        JsonNode guard = json.get("guard");
        assertThat(guard.get("clean_items").asLong() + guard.get("triggered_items").asLong()).isEqualTo(120);
        assertThat(guard.get("triggered_flag_rate").asDouble()).isEqualTo(1.0);
        assertThat(run.err()).contains("measure"); // progress lines go to stderr
    }

    @Test
    void openLoopTableShowsThroughputLatencyErrorsAndFlagRates() {
        CliRun run = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--rate", "40",
                "--duration", "500ms", "--warmup", "200ms");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).contains("open loop at 40.0 req/s").contains("throughput").contains("requests/s")
                .contains("items/s").contains("p99.9").contains("flagged     clean").contains("dropped/late");
    }

    @Test
    void badInputAndAllFailedRuns() {
        assertThat(CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--trigger", "wanet",
                "--requests", "1").exitCode()).isEqualTo(2);
        CliRun noData = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--requests", "1",
                "--data-dir", "/nonexistent");
        assertThat(noData.exitCode()).isEqualTo(2);
        assertThat(noData.err()).contains("no t10k-images-idx3-ubyte");
        CliRun tooFast = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--rate", "1e9",
                "--duration", "1s");
        assertThat(tooFast.exitCode()).isEqualTo(2);
        assertThat(tooFast.err()).contains("--rate must be in [0, 100000] requests/s, got 1.0E9");
        CliRun unknown = CliRun.of("bench", "--target", server.target(), "--model", "nope", "--requests", "1");
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.err()).contains("NOT_FOUND");
        assertThat(CliRun.of("bench", "--help").out()).contains("--concurrency").contains("--rate")
                .contains("--warmup").contains("GUARD_DATA_DIR");
    }

    @Test
    void aRunTooShortForAnyRequestSaysWhyItExitsOneAndShowsNoNaN() {
        // One nanosecond: over before the first send however fast the machine (1ms usually is, not always).
        CliRun run = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--duration",
                "PT0.000000001S");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out()).contains("sent 0").contains("latency ms  p50 n/a  p90 n/a").doesNotContain("NaN");
        assertThat(run.err()).contains("guard bench: no request completed within --duration PT0.000000001S\n");
    }

    @Test
    void aRunWithNoRequestCompletedShowsTheDurationAsWrittenAndTheDefaultAsTheDefault() {
        // The default run is 60 s long: too long to wait for a run that sends nothing.
        assertThat(BenchCommand.noneCompleted(null, 0))
                .isEqualTo("guard bench: no request completed within 60s (the default --duration)");
        assertThat(BenchCommand.noneCompleted("90s", 0))
                .isEqualTo("guard bench: no request completed within --duration 90s");
        assertThat(BenchCommand.noneCompleted("2m", 10))
                .isEqualTo("guard bench: no request completed within --duration 2m");
        assertThat(BenchCommand.noneCompleted(null, 10)).isEqualTo("guard bench: no request completed");
        assertThat(CliRun.of("bench", "--help").out().replaceAll("\\s+", " "))
                .contains("(default: 60s unless --requests is given)");
    }

    @Test
    void durationErrorsShowTheDurationAsWrittenAndCallANegativeOneNotPositive() {
        CliRun zero = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--duration", "0s");
        assertThat(zero.exitCode()).isEqualTo(2);
        assertThat(zero.err().strip()).isEqualTo("guard bench: error: duration must be positive, got 0ms");
        CliRun negative = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--duration", "-3s");
        assertThat(negative.exitCode()).isEqualTo(2);
        assertThat(negative.err().strip()).isEqualTo("guard bench: error: duration must be positive, got -3000ms");
        CliRun warmup = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--duration", "1s",
                "--warmup", "-1s");
        assertThat(warmup.exitCode()).isEqualTo(2);
        assertThat(warmup.err().strip()).isEqualTo("guard bench: error: warm-up must be >= 0, got -1000ms");
        CliRun deadline = CliRun.of("bench", "--target", server.target(), "--model", "fashion", "--requests", "1",
                "--deadline", "-3s");
        assertThat(deadline.err().strip()).isEqualTo("guard bench: error: deadline must be positive, got -3000ms");
        assertThat(CliRun.of("bench", "--model", "fashion", "--duration", "soon").err())
                .contains("not a duration: 'soon'");
        assertThat(server.inferCalls.get()).isZero();
    }

    @Test
    void theReportSaysWhyARunStoppedEarlyAndCountsBlockModeRefusalsAsFlagged() {
        LoadReport stopped = new LoadReport("closed", 2, 0, 65, 0.1, 2, 0, Map.of("INVALID_ARGUMENT", 2L),
                Map.of("INVALID_ARGUMENT", "65 items, at most 64 per request"), 0, 0, Map.of("p50", Double.NaN,
                "p90", Double.NaN, "p99", Double.NaN, "p99.9", Double.NaN, "max", Double.NaN), Double.NaN, 0, 0, 0, 0,
                0, 0, "INVALID_ARGUMENT: 65 items, at most 64 per request");
        assertThat(BenchCommand.text(stopped, "m")).contains("STOPPED EARLY: every further request would be refused"
                + " the same way: INVALID_ARGUMENT: 65 items");
        assertThat(Json.write(BenchCommand.toJson(stopped, "m"))).contains("\"stopped_early\":\"INVALID_ARGUMENT: 65");

        LoadReport blocked = new LoadReport("closed", 2, 0, 1, 1.0, 100, 88, Map.of("FAILED_PRECONDITION", 12L),
                Map.of(), 0, 88, Map.of("p50", 1.0, "p90", 1.0, "p99", 1.0, "p99.9", 1.0, "max", 1.0), 1.0, 90, 0, 10,
                0, 2, 10, null); // block mode: answered items are never flagged, refused ones are
        String text = BenchCommand.text(blocked, "m");
        assertThat(text).contains("flagged     clean 2/90 (2.22%)  triggered 10/10 (100.00%)")
                .contains("of which named by --mode block refusals: clean 2, triggered 10")
                .doesNotContain("STOPPED");
    }
}
