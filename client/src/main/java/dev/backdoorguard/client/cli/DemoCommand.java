package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.GuardMode;
import dev.backdoorguard.client.InputBatch;
import dev.backdoorguard.client.ItemResult;
import dev.backdoorguard.client.PredictRequest;
import dev.backdoorguard.client.Prediction;
import dev.backdoorguard.client.load.BadNets;
import dev.backdoorguard.client.load.IdxImages;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code guard demo}: starts the server on free loopback ports as a child process, waits until it is healthy, sends a
 * few clean and badnets-triggered Fashion-MNIST test images and prints what the served model and its guard make of
 * them, then stops the server.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Start the server with the bundled demo model, send clean and badnets-triggered Fashion-MNIST",
            "test images, show each answer and the guard's verdict, then stop the server (unless --keep-serving).",
            "Exit codes: 0 ok, 1 the server did not start or failed (its log is kept and named), 2 bad input "
                    + "(incl. a --port or --metrics-port already in use)."})
final class DemoCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model-repository", paramLabel = "DIR",
            description = "Model repository to serve (default: $GUARD_HOME/demo/models).")
    Path repository;

    @Option(names = "--model", defaultValue = "fashion-mnist", description = "Model to ask (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--backdoored", paramLabel = "NAME", defaultValue = "fashion-mnist-backdoored",
            description = "Also ask this served model (the unpurified one, guarded too) and show its answers and"
                    + " the guard's verdicts (default: ${DEFAULT-VALUE}, shipped in the demo repository; shown as n/a"
                    + " when it is not served).")
    String backdoored;

    @Option(names = "--clean", defaultValue = "4", description = "Clean test images to send (default: ${DEFAULT-VALUE}).")
    int clean;

    @Option(names = "--triggered", defaultValue = "4",
            description = "Badnets-triggered test images to send (default: ${DEFAULT-VALUE}).")
    int triggered;

    @Option(names = "--target-class", defaultValue = "0",
            description = "The attack's target class; triggered images are drawn from the other classes "
                    + "(default: ${DEFAULT-VALUE}).")
    int targetClass;

    @Option(names = "--data-dir", defaultValue = "${env:GUARD_DATA_DIR:-" + BenchCommand.DEFAULT_DATA_DIR + "}",
            description = "Fashion-MNIST IDX directory (default: env GUARD_DATA_DIR, else "
                    + BenchCommand.DEFAULT_DATA_DIR + ").")
    Path dataDir;

    @Option(names = "--port", defaultValue = "0", description = "gRPC port for the server (default: a free one).")
    int port;

    @Option(names = "--metrics-port", defaultValue = "0", description = "Metrics port (default: a free one).")
    int metricsPort;

    @Option(names = "--startup-timeout", defaultValue = "180s", paramLabel = "DURATION",
            description = "How long to wait for the server to become healthy (default: ${DEFAULT-VALUE}).")
    Duration startupTimeout;

    @Option(names = "--keep-serving", description = "Leave the server running at the end.")
    boolean keepServing;

    @Option(names = "--server-log", paramLabel = "FILE",
            description = "Where the server's output goes (default: a temporary file, deleted after a clean run).")
    Path serverLog;

    @Option(names = "--server-command", paramLabel = "CMD",
            description = "Command that starts the server, split on spaces; --model-repository, --port and "
                    + "--metrics-port are appended, and it must print guard serve's 'gRPC on port N' once it "
                    + "listens (default: $GUARD_HOME/bin/guard serve).")
    String serverCommand;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (clean < 0 || triggered < 0 || clean + triggered == 0) {
            throw new IllegalArgumentException("--clean and --triggered must be >= 0 and not both 0");
        }
        if (startupTimeout.isNegative() || startupTimeout.isZero()) {
            throw new IllegalArgumentException("--startup-timeout must be positive, got " + startupTimeout.toMillis()
                    + "ms");
        }
        if (targetClass < 0 || targetClass > 9) {  // the demo's images are Fashion-MNIST's ten classes
            throw new IllegalArgumentException("--target-class must be a Fashion-MNIST class, 0..9, got " + targetClass);
        }
        Path home = guardHome();
        Path repo = repository != null ? repository : home.resolve("demo").resolve("models");
        if (!Files.isDirectory(repo)) {
            throw new IllegalArgumentException("no model repository at " + repo
                    + " (the demo bundle ships in $GUARD_HOME/demo/models; or pass --model-repository DIR)");
        }
        IdxImages data = IdxImages.testSet(dataDir);
        if (port != 0) {
            ServerProcess.requireFree(port, "--port");
        }
        if (metricsPort != 0) {
            ServerProcess.requireFree(metricsPort, "--metrics-port");
        }
        int grpcPort = port != 0 ? port : ServerProcess.freePort();
        int promPort = metricsPort != 0 ? metricsPort : ServerProcess.freePort();
        List<String> command = new ArrayList<>(serverCommand != null
                ? Arrays.asList(serverCommand.trim().split("\\s+"))
                : List.of(home.resolve("bin").resolve("guard").toString(), "serve"));
        command.addAll(List.of("--model-repository", repo.toString(), "--port", Integer.toString(grpcPort),
                "--metrics-port", Integer.toString(promPort)));
        PrintWriter out = spec.commandLine().getOut();
        boolean temporaryLog = serverLog == null;
        Path log = temporaryLog ? Files.createTempFile("guard-demo-server-", ".log") : serverLog;
        out.printf("Starting the server: %s%n  (log: %s)%n", String.join(" ", command), log);
        out.flush();

        ServerProcess server = ServerProcess.start(command, log);
        Thread stopOnInterrupt = new Thread(() -> {
            if (!keepServing && server.isAlive()) {
                server.close();
            }
        }, "demo-stop-server");
        Runtime.getRuntime().addShutdownHook(stopOnInterrupt);
        String target = "127.0.0.1:" + grpcPort;
        boolean succeeded = false;
        ClientConfig config = ClientConfig.plaintext(target).withMaxAttempts(1).withDeadline(Duration.ofSeconds(30));
        try (GuardClient client = GuardClient.connect(config)) {
            server.awaitServing(config, grpcPort, startupTimeout);
            out.printf("Server SERVING at %s (pid %d)%n%n", target, server.pid());
            demo(client, data, out);
            out.printf("%nMetrics: http://127.0.0.1:%d/metrics%s%n", promPort,
                    keepServing ? "" : " (gone when the server stops below; --keep-serving keeps it up)");
            succeeded = true;
        } finally {
            if (keepServing && server.isAlive()) {
                out.printf("The server keeps serving at %s (pid %d; stop it with: kill %d).%n", target, server.pid(),
                        server.pid());
            } else {
                server.close();
                boolean keepLog = !temporaryLog || !succeeded && !server.logIsEmpty();
                if (!keepLog) {
                    Files.deleteIfExists(log); // kept after a failure when it says something: the error names it
                }
                out.println(succeeded || !keepLog ? "Server stopped." : "Server stopped; its log: " + log);
            }
            out.flush();
            try {
                Runtime.getRuntime().removeShutdownHook(stopOnInterrupt);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down; the hook runs anyway
            }
        }
        return 0;
    }

    private void demo(GuardClient client, IdxImages data, PrintWriter out) {
        List<Integer> indices = new ArrayList<>();
        List<Boolean> marks = new ArrayList<>();
        for (int i = 0; i < clean; i++) {
            indices.add(i);
            marks.add(false);
        }
        for (int i = clean, added = 0; added < triggered && i < data.count(); i++) {
            if (data.label(i) != targetClass) {
                indices.add(i);
                marks.add(true);
                added++;
            }
        }
        int plane = data.rows() * data.cols();
        float[] pixels = new float[indices.size() * plane];
        for (int n = 0; n < indices.size(); n++) {
            float[] image = data.image(indices.get(n));
            if (marks.get(n)) {
                BadNets.apply(image, 1, data.rows(), data.cols());
            }
            System.arraycopy(image, 0, pixels, n * plane, plane);
        }
        InputBatch batch = InputBatch.pixels(pixels, indices.size(), 1, data.rows(), data.cols());
        List<String> names = ClassNames.FASHION_MNIST;
        Prediction served = client.predict(PredictRequest.of(model, batch).withMode(GuardMode.FLAG).withLabels(names));
        Prediction other = null;
        String otherNote = "n/a (no --backdoored model)";
        if (backdoored != null) {
            try {
                other = client.predict(PredictRequest.of(backdoored, batch).withMode(GuardMode.FLAG)
                        .withLabels(names));
            } catch (GuardClientException e) {
                if (e.code() != Status.Code.NOT_FOUND) {
                    throw e;
                }
                otherNote = "n/a (" + backdoored + " is not served)";
            }
        }
        out.printf("Model %s, guard detector: %s%n", model, served.detector().isEmpty() ? "?" : served.detector());
        String format = "%-6s  %-8s  %-12s  %-12s  %-6s  %-8s  %-8s  %s%n";
        out.printf(format, "image", "input", "true label", "answer", "p", "score", "guard",
                "backdoored model" + (backdoored != null ? " (" + backdoored + ")" : ""));
        for (int n = 0; n < indices.size(); n++) {
            ItemResult item = served.items().get(n);
            String otherAnswer = other == null ? "n/a" : String.format(Locale.ROOT, "%-12s  %s",
                    other.items().get(n).labelText(), Verdict.of(other.items().get(n)));
            out.printf(format, "#" + indices.get(n), marks.get(n) ? "badnets" : "clean",
                    names.get(data.label(indices.get(n))), item.labelText(),
                    String.format(Locale.ROOT, "%.3f", item.probability()),
                    item.score().map(s -> String.format(Locale.ROOT, "%.3f", s)).orElse("n/a"),
                    Verdict.of(item), otherAnswer);
        }
        if (other == null) {
            out.println("Backdoored model: " + otherNote);
        }
        long flaggedTriggered = 0;
        long flaggedClean = 0;
        for (int n = 0; n < indices.size(); n++) {
            if (served.items().get(n).flagged()) {
                if (marks.get(n)) {
                    flaggedTriggered++;
                } else {
                    flaggedClean++;
                }
            }
        }
        out.printf("Flagged by the guard of %s: %d of %d triggered, %d of %d clean.%n", model, flaggedTriggered,
                marks.stream().filter(m -> m).count(), flaggedClean, marks.stream().filter(m -> !m).count());
        if (other != null) {
            long hijacked = 0;
            long caught = 0;
            for (int n = 0; n < indices.size(); n++) {
                if (marks.get(n) && other.items().get(n).label() == targetClass) {
                    hijacked++;
                    caught += other.items().get(n).flagged() ? 1 : 0;
                }
            }
            out.printf("Backdoored model %s: %d of %d triggered images hijacked to class %d, %d of those flagged.%n",
                    backdoored, hijacked, marks.stream().filter(m -> m).count(), targetClass, caught);
        }
    }

    /** {@code guard.home} if bin/guard set it, else the checkout this jar was built in (client/target/x.jar). */
    static Path guardHome() {
        String property = System.getProperty("guard.home");
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        try {
            Path code = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent().getParent().getParent();
        } catch (URISyntaxException | RuntimeException e) {
            return Path.of("").toAbsolutePath();
        }
    }
}
