package dev.backdoorguard.client.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.backdoorguard.client.CannedInferenceServer;
import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardMode;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The load generator's accounting and pacing against {@link CannedInferenceServer} on loopback. */
class LoadGeneratorTest {
    private static Workload workload;

    private CannedInferenceServer server;
    private GuardClient client;
    private final List<LoadProgress> updates = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void prepareWorkload() throws IOException {
        workload = Workload.create(IdxImages.testSet(IdxImagesTest.FASHION), 4, 0.25, 16, 7);
    }

    @BeforeEach
    void start() throws IOException {
        server = CannedInferenceServer.plaintext();
        client = GuardClient.connect(ClientConfig.plaintext(server.target()).withMaxAttempts(1));
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        server.close();
    }

    @Test
    void closedLoopSendsExactlyTheRequestedCountAndEveryRequestIsAccountedFor() throws InterruptedException {
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 3, 0, 1, null, 40, Duration.ZERO));

        assertThat(report.sent()).isEqualTo(40);
        assertThat(report.ok()).isEqualTo(40);
        assertThat(report.errorCount()).isZero();
        assertThat(server.inferCalls.get()).isEqualTo(40);
        assertThat(report.items()).isEqualTo(160);
        assertThat(report.cleanItems() + report.triggeredItems()).isEqualTo(160);
        assertThat(report.triggeredItems()).isBetween(20L, 60L);
        assertThat(report.triggeredFlagRate()).isEqualTo(1.0); // the canned server detects every badnets square
        assertThat(report.cleanFlagRate()).isLessThan(0.05);
        assertThat(report.latencyMillis()).containsKeys("p50", "p90", "p99", "p99.9", "max");
        assertThat(report.latencyMillis().get("p50")).isPositive();
        assertThat(report.latencyMillis().get("p99")).isGreaterThanOrEqualTo(report.latencyMillis().get("p50"));
    }

    @Test
    void aRefusalEveryFurtherRequestWouldGetEndsTheRunAndTheReportSaysWhy() throws InterruptedException {
        long start = System.nanoTime();
        LoadReport report = run(new BenchConfig("nope", null, 2, 0, 1, Duration.ofSeconds(20), 0,
                Duration.ofSeconds(5)));

        assertThat((System.nanoTime() - start) / 1e9).isLessThan(5.0); // neither the warm-up nor the 20 s ran out
        assertThat(report.sent()).isBetween(1L, 2L); // each caller stops at its first NOT_FOUND, if not before
        assertThat(report.ok()).isZero();
        assertThat(report.errors()).containsExactlyEntriesOf(java.util.Map.of("NOT_FOUND", report.sent()));
        assertThat(report.stoppedBecause()).startsWith("in the warm-up (nothing was measured): NOT_FOUND: ")
                .contains("nope");
        assertThat(report.latencyMillis().get("p50")).isNaN();
    }

    @Test
    void openLoopErrorsAreCountedByTheServersCode() throws InterruptedException {
        LoadReport report = run(new BenchConfig("nope", null, 1, 200, 8, null, 30, Duration.ZERO));

        assertThat(report.sent()).isBetween(1L, 8L); // the first NOT_FOUND ends the run: at most max-in-flight sent
        assertThat(report.ok()).isZero();
        // The server's answer, not CLIENT_ERROR: the exception's own cause is the transport's status, not its code.
        assertThat(report.errors()).containsExactlyEntriesOf(java.util.Map.of("NOT_FOUND", report.sent()));
        assertThat(report.stoppedBecause()).startsWith("NOT_FOUND");
    }

    @Test
    void inBlockModeTheImagesOfRefusedRequestsCountAsFlaggedAndTheRunGoesOn() throws IOException,
            InterruptedException {
        Workload single = Workload.create(IdxImages.testSet(IdxImagesTest.FASHION), 1, 0.25, 16, 7);
        BenchConfig config = new BenchConfig("fashion", GuardMode.BLOCK, 2, 0, 1, null, 32, Duration.ZERO);
        LoadReport report = new LoadGenerator(List.of(client), single, config, updates::add, Duration.ofMillis(100))
                .run();

        assertThat(report.sent()).isEqualTo(32);
        assertThat(report.stoppedBecause()).isNull();
        assertThat(report.triggeredItems()).isEqualTo(8); // 4 of the 16 pooled images, each pool drawn twice
        assertThat(report.triggeredBlocked()).isEqualTo(8);
        assertThat(report.triggeredFlagRate()).isEqualTo(1.0); // before: 0/0, refused requests were not counted
        assertThat(report.cleanItems()).isEqualTo(24);
        assertThat(report.errors()).containsExactlyEntriesOf(
                java.util.Map.of("FAILED_PRECONDITION", 8 + report.cleanBlocked()));
        assertThat(report.ok()).isEqualTo(24 - report.cleanBlocked());
        assertThat(report.unexpectedErrorCount()).isZero();
    }

    @Test
    void inBlockModeOnlyTheImagesARefusalNamesCountAsFlagged() throws InterruptedException {
        // Four images per request, a quarter triggered: most requests hold a trigger and are refused, but only the
        // triggered image in each is flagged; counting whole requests would put the clean flag rate near 70%.
        LoadReport report = run(new BenchConfig("fashion", GuardMode.BLOCK, 2, 0, 1, null, 32, Duration.ZERO));

        assertThat(report.errors()).containsOnlyKeys("FAILED_PRECONDITION");
        assertThat(report.cleanItems() + report.triggeredItems()).isEqualTo(128);
        assertThat(report.triggeredBlocked()).isEqualTo(report.triggeredItems());
        assertThat(report.cleanFlagRate()).isLessThan(0.05);
    }

    @Test
    void closedLoopCallersRunInParallel() throws InterruptedException {
        server.delayMillis = 50;
        long start = System.nanoTime();
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 8, 0, 1, null, 32, Duration.ZERO));
        double wall = (System.nanoTime() - start) / 1e9;

        assertThat(report.ok()).isEqualTo(32);
        // 8 callers in parallel: 4 rounds of 50 ms, not 32 calls one after another (1.6 s).
        assertThat(wall).isLessThan(1.0);
    }

    @Test
    @Timeout(30)
    void aServerThatIsGoneFailsEveryCallAndTheRunStillEnds() throws InterruptedException {
        server.close();
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 4, 0, 1, null, 40, Duration.ZERO));

        assertThat(report.sent()).isEqualTo(40);
        assertThat(report.ok()).isZero();
        assertThat(report.errors()).containsExactlyEntriesOf(java.util.Map.of("UNAVAILABLE", 40L));
    }

    @Test
    @Timeout(30)
    void callersPauseAfterUnavailableInsteadOfSpinningAndTheReportSaysWhy() throws InterruptedException {
        server.close();
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 2, 0, 1, Duration.ofSeconds(1), 0,
                Duration.ZERO));

        // Two callers for one second, each pausing 100 ms after every UNAVAILABLE: about 20 calls, not thousands.
        assertThat(report.sent()).isBetween(2L, 30L);
        assertThat(report.errors()).containsOnlyKeys("UNAVAILABLE");
        assertThat(report.errorExamples().get("UNAVAILABLE")).isNotBlank();
        assertThat(report.unexpectedErrorCount()).isEqualTo(report.sent());
    }

    @Test
    void durationBoundedRunStopsOnTimeAfterItsWarmUp() throws InterruptedException {
        server.delayMillis = 20;
        long start = System.nanoTime();
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 2, 0, 1, Duration.ofMillis(1_000), 0,
                Duration.ofMillis(300)));
        double wall = (System.nanoTime() - start) / 1e9;

        assertThat(report.seconds()).isBetween(0.98, 1.4);
        assertThat(wall).isBetween(1.25, 2.0); // warm-up + measured phase
        assertThat(report.sent()).isEqualTo(report.ok() + report.errorCount());
        // 2 callers, about 20 ms per call: roughly 100 calls in a second; the warm-up's calls are not counted.
        assertThat(report.sent()).isBetween(30L, 110L);
        assertThat(server.inferCalls.get()).isGreaterThan((int) report.sent());
        assertThat(updates).extracting(LoadProgress::phase).contains("warm-up", "measure");
    }

    @Test
    void openLoopKeepsItsRateAndAccountsEveryScheduledRequest() throws InterruptedException {
        server.delayMillis = 5;
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 1, 50, 16, Duration.ofSeconds(1), 0,
                Duration.ZERO));

        assertThat(report.mode()).isEqualTo("open");
        assertThat(report.sent() + report.dropped()).isBetween(48L, 51L); // 50 slots in one second
        assertThat(report.dropped()).isLessThanOrEqualTo(2);
        assertThat(report.sent()).isEqualTo(report.ok() + report.errorCount());
        assertThat(report.requestsPerSecond()).isCloseTo(50, within(10.0));
    }

    @Test
    void openLoopDropsWhatItCannotSendInsteadOfQueueing() throws InterruptedException {
        server.delayMillis = 300;
        LoadReport report = run(new BenchConfig("fashion", GuardMode.FLAG, 1, 100, 2, null, 60, Duration.ZERO));

        assertThat(report.sent() + report.dropped()).isEqualTo(60);
        assertThat(report.dropped()).isGreaterThan(40); // 2 in flight at 300 ms each while 100/s are scheduled
        assertThat(report.sent()).isEqualTo(report.ok() + report.errorCount());
        assertThat(server.inferCalls.get()).isEqualTo((int) report.sent());
    }

    @Test
    void callersAreSpreadOverEveryConnectionInBothLoops() throws IOException, InterruptedException {
        // Three connections to three servers: each server's count is what went over its connection.
        List<CannedInferenceServer> servers = List.of(server, CannedInferenceServer.plaintext(),
                CannedInferenceServer.plaintext());
        List<GuardClient> clients = List.of(client,
                GuardClient.connect(ClientConfig.plaintext(servers.get(1).target()).withMaxAttempts(1)),
                GuardClient.connect(ClientConfig.plaintext(servers.get(2).target()).withMaxAttempts(1)));
        try {
            LoadReport closed = new LoadGenerator(clients, workload,
                    new BenchConfig("fashion", GuardMode.FLAG, 6, 0, 1, null, 60, Duration.ZERO), updates::add,
                    Duration.ofMillis(100)).run();
            assertThat(closed.ok()).isEqualTo(60);
            assertThat(servers).allSatisfy(s -> assertThat(s.inferCalls.get()).isPositive());
            assertThat(servers.stream().mapToInt(s -> s.inferCalls.get()).sum()).isEqualTo(60);

            int[] afterClosed = servers.stream().mapToInt(s -> s.inferCalls.get()).toArray();
            LoadReport open = new LoadGenerator(clients, workload,
                    new BenchConfig("fashion", GuardMode.FLAG, 1, 200, 8, null, 30, Duration.ZERO), updates::add,
                    Duration.ofMillis(100)).run();
            assertThat(open.sent()).isEqualTo(open.ok());
            assertThat(servers.stream().mapToInt(s -> s.inferCalls.get()).sum()).isEqualTo(60 + (int) open.sent());
            for (int i = 0; i < 3; i++) {
                assertThat(servers.get(i).inferCalls.get()).as("server %d", i).isGreaterThan(afterClosed[i]);
            }
        } finally {
            for (int i = 1; i < 3; i++) {
                clients.get(i).close();
                servers.get(i).close();
            }
        }
        assertThatThrownBy(() -> new LoadGenerator(List.of(), workload,
                new BenchConfig("m", null, 1, 0, 1, null, 1, null), updates::add, Duration.ofMillis(100)))
                .hasMessageContaining("at least one connection");
    }

    @Test
    void configRequiresABound() {
        assertThatThrownBy(() -> new BenchConfig("m", null, 1, 0, 1, null, 0, null))
                .hasMessageContaining("bound the run");
        assertThatThrownBy(() -> new BenchConfig("m", null, 0, 0, 1, null, 1, null))
                .hasMessageContaining("concurrency");
    }

    private LoadReport run(BenchConfig config) throws InterruptedException {
        return new LoadGenerator(List.of(client), workload, config, updates::add, Duration.ofMillis(100)).run();
    }
}
