package dev.backdoorguard.client.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.client.CannedInferenceServer;
import dev.backdoorguard.client.CannedServerMain;
import dev.backdoorguard.client.ClientConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guard demo} with the canned server as its child process ({@link CannedServerMain} on the test class path):
 * start, health wait, the table, the metrics pointer, and the server stopped at the end.
 */
class DemoCommandTest {
    @TempDir
    Path repository;

    @TempDir
    Path logs;

    private String cannedServer() {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return java + " -cp " + System.getProperty("java.class.path") + " " + CannedServerMain.class.getName();
    }

    @Test
    void showsCleanAndTriggeredAnswersThenStopsTheServer() {
        CliRun run = CliRun.of("demo", "--server-log", logs.resolve("demo-" + System.nanoTime() + ".log").toString(),
                "--server-command", cannedServer(), "--model-repository",
                repository.toString(), "--clean", "3", "--triggered", "2", "--backdoored", "backdoored");

        assertThat(run.exitCode()).as(run.err() + run.out()).isZero();
        List<String> rows = run.out().lines().filter(line -> line.startsWith("#")).toList();
        assertThat(rows).hasSize(5);
        assertThat(rows.subList(0, 3)).allMatch(row -> row.contains(" clean ") && row.contains(" ok "));
        assertThat(rows.subList(3, 5)).allMatch(row -> row.contains(" badnets ") && row.contains("FLAGGED")
                && row.matches(".*T-shirt/top +FLAGGED"));
        assertThat(rows.get(0)).startsWith("#0").contains("Ankle boot"); // the first test image's true label
        assertThat(run.out()).contains("Flagged by the guard of fashion-mnist: 2 of 2 triggered, 0 of 3 clean.")
                .contains("Backdoored model backdoored: 2 of 2 triggered images hijacked to class 0, 2 of those flagged.")
                .contains("Server stopped.");
        Matcher metrics = Pattern.compile("Metrics: http://127\\.0\\.0\\.1:(\\d+)/metrics").matcher(run.out());
        assertThat(metrics.find()).isTrue();
        Matcher serving = Pattern.compile("SERVING at 127\\.0\\.0\\.1:(\\d+)").matcher(run.out());
        assertThat(serving.find()).isTrue();
        assertThat(accepts(Integer.parseInt(serving.group(1)))).as("server stopped").isFalse();
    }

    @Test
    void missingBackdooredModelIsNotApplicableAndADeadServerIsAOneLineError() {
        CliRun run = CliRun.of("demo", "--server-log", logs.resolve("demo-" + System.nanoTime() + ".log").toString(),
                "--server-command", cannedServer(), "--model-repository",
                repository.toString(), "--clean", "1", "--triggered", "1", "--backdoored", "absent");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).contains("n/a (absent is not served)");

        CliRun dead = CliRun.of("demo", "--server-log", logs.resolve("demo-" + System.nanoTime() + ".log").toString(),
                "--server-command", "false", "--model-repository", repository.toString());
        assertThat(dead.exitCode()).isEqualTo(1);
        assertThat(dead.err()).contains("the server exited with code 1 before it was ready");

        CliRun noRepo = CliRun.of("demo", "--model-repository", repository.resolve("missing").toString());
        assertThat(noRepo.exitCode()).isEqualTo(2);
        assertThat(noRepo.err()).contains("no model repository at");

        CliRun badTarget = CliRun.of("demo", "--target-class", "12", "--model-repository", repository.toString());
        assertThat(badTarget.exitCode()).isEqualTo(2);
        assertThat(badTarget.err()).contains("--target-class must be a Fashion-MNIST class, 0..9, got 12");
    }

    @Test
    void aPortInUseIsAOneLineErrorAndAnotherServersAnswersAreNotShownAsTheDemos() throws IOException {
        try (CannedInferenceServer other = CannedInferenceServer.plaintext()) {
            String port = other.target().substring(other.target().lastIndexOf(':') + 1);
            CliRun run = CliRun.of("demo", "--server-log", logs.resolve("busy.log").toString(), "--server-command",
                    cannedServer(), "--model-repository", repository.toString(), "--port", port);

            assertThat(run.exitCode()).as(run.out()).isEqualTo(2);
            assertThat(run.err().lines().toList()).hasSize(1);
            assertThat(run.err()).startsWith("guard demo: error: --port " + port + ": cannot listen there (Address already in use");
            assertThat(run.out()).doesNotContain("SERVING").doesNotContain("#0");
            assertThat(other.inferCalls.get()).isZero();
        }
    }

    @Test
    void aPortOutsideTheRangeIsNamedNotReportedAsInUse() {
        for (String port : List.of("-1", "70000")) {
            CliRun run = CliRun.of("demo", "--server-command", cannedServer(), "--model-repository",
                    repository.toString(), "--metrics-port", port);

            assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
            assertThat(run.err().strip()).isEqualTo("guard demo: error: --metrics-port must be a port in 1..65535"
                    + " (or 0 for a free one), got " + port);
        }
    }

    @Test
    void aServerOnThePortThatIsNotTheChildDoesNotPassForIt() throws IOException, InterruptedException {
        try (CannedInferenceServer other = CannedInferenceServer.plaintext()) {
            int port = Integer.parseInt(other.target().substring(other.target().lastIndexOf(':') + 1));
            // A child that never binds: as one that lost the port to another process after the demo checked it.
            ServerProcess child = ServerProcess.start(List.of("sleep", "30"), logs.resolve("sleep.log"));
            try {
                assertThatThrownBy(() -> child.awaitServing(ClientConfig.plaintext(other.target()), port,
                        Duration.ofSeconds(1)))
                        .isInstanceOf(ServerProcessException.class)
                        .hasMessage("something answers on port " + port + ", but the server started here has not"
                                + " said 'gRPC on port " + port + "' after 1 s; it wrote no output");
            } finally {
                child.close();
            }
        }
    }

    @Test
    void aChildThatDiesIsOneLineNamingThePortAndItsLogWhichIsKeptOnlyWhenItSaysSomething() throws IOException {
        Path script = logs.resolve("dies.sh");
        Files.writeString(script, "#!/bin/sh\necho 'cannot bind the port'\nexit 3\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        CliRun dies = CliRun.of("demo", "--server-command", script.toString(), "--model-repository",
                repository.toString());

        assertThat(dies.exitCode()).isEqualTo(1);
        assertThat(dies.err().lines().toList()).hasSize(1);
        Path log = logOf(dies);
        try {
            assertThat(dies.err().strip()).matches("guard demo: the server exited with code 3 before it was ready"
                    + " on port \\d+; see its log " + Pattern.quote(log.toString()));
            assertThat(log).content().contains("cannot bind the port");
            assertThat(dies.out()).contains("Server stopped; its log: " + log);
        } finally {
            Files.deleteIfExists(log); // a temporary file outside @TempDir
        }

        CliRun silent = CliRun.of("demo", "--server-command", "false", "--model-repository", repository.toString());
        assertThat(silent.exitCode()).isEqualTo(1);
        assertThat(silent.err().strip()).matches("guard demo: the server exited with code 1 before it was ready on"
                + " port \\d+; it wrote no output");
        assertThat(logOf(silent)).doesNotExist();
        assertThat(silent.out()).contains("Server stopped.");
    }

    /** The server log the demo announced ("(log: FILE)"). */
    private static Path logOf(CliRun run) {
        Matcher m = Pattern.compile("\\(log: (\\S+)\\)").matcher(run.out());
        assertThat(m.find()).as(run.out()).isTrue();
        return Path.of(m.group(1));
    }

    private static boolean accepts(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
