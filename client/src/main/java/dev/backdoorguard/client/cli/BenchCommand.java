package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardMode;
import dev.backdoorguard.client.ModelInfo;
import dev.backdoorguard.client.load.BenchConfig;
import dev.backdoorguard.client.load.IdxImages;
import dev.backdoorguard.client.load.LoadGenerator;
import dev.backdoorguard.client.load.LoadReport;
import dev.backdoorguard.client.load.Workload;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guard bench}: a closed- or open-loop load generator with Fashion-MNIST test images. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Load-test a served model with Fashion-MNIST test images, a share of them badnets-triggered."
                + " Closed loop (--concurrency N callers) by default; open loop with --rate R (requests/s, at most"
                + " --max-in-flight outstanding; requests that cannot start on time are counted as dropped)."
                + " The run stops after --duration and/or --requests.",
            "Calls are not retried, so every error is counted; a caller whose call ended UNAVAILABLE pauses 100 ms"
                + " before its next send. Reports throughput, latency percentiles, errors by gRPC code (with the"
                + " first message of each) and flag rates clean vs triggered (in block mode the images a refusal"
                + " names count as flagged).",
            "A refusal that every further request would get too (INVALID_ARGUMENT, e.g. more images per request"
                + " than the server takes; NOT_FOUND; UNIMPLEMENTED; UNAUTHENTICATED; PERMISSION_DENIED) ends the"
                + " run at once, and the report says so.",
            "Exit code: 0 when every request succeeded (refusals of flagged inputs in block mode count as success),"
                + " 1 when any failed (the report is printed), none completed (stderr says so) or the server could not"
                + " be reached, 2 for bad"
                + " arguments."})
final class BenchCommand implements Callable<Integer> {
    static final String DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist";
    /** The run's length when neither --duration nor --requests is given, as --help writes it. */
    static final String DEFAULT_DURATION = "60s";

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--model", required = true, description = "Served model name.")
    String model;

    @Option(names = "--mode", converter = ModeConverter.class, paramLabel = "off|flag|block",
            description = "Guard mode sent with every request (default: the server's).")
    GuardMode mode;

    @Option(names = "--concurrency", defaultValue = "8", description = "Closed-loop callers (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--rate", defaultValue = "0", paramLabel = "R",
            description = "Open loop: requests per second, at most 100000 (default: 0, the closed loop).")
    double rate;

    @Option(names = "--max-in-flight", defaultValue = "256",
            description = "Open loop: most outstanding requests (default: ${DEFAULT-VALUE}).")
    int maxInFlight;

    @Option(names = "--duration", paramLabel = "DURATION",
            description = "Measured run length, e.g. 60s (default: " + DEFAULT_DURATION
                    + " unless --requests is given).")
    Duration duration;

    @Option(names = "--requests", defaultValue = "0", description = "Measured request count (0: no limit).")
    long requests;

    @Option(names = "--warmup", defaultValue = "0s", paramLabel = "DURATION",
            description = "Unmeasured warm-up before the run, e.g. 5s (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--connections", defaultValue = "1", description = "gRPC connections (HTTP/2) to spread the"
            + " callers over; a server handles one connection's frames on one event-loop thread (default:"
            + " ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--batch", defaultValue = "1", description = "Items per request (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--triggered", defaultValue = "0.1",
            description = "Share of items carrying the trigger (default: ${DEFAULT-VALUE}).")
    double triggered;

    @Option(names = "--trigger", defaultValue = "badnets",
            description = "Trigger stamped on triggered items; only badnets is available here (default).")
    String trigger;

    @Option(names = "--data-dir", defaultValue = "${env:GUARD_DATA_DIR:-" + DEFAULT_DATA_DIR + "}",
            description = "Directory with the Fashion-MNIST test IDX files (default: env GUARD_DATA_DIR, else "
                    + DEFAULT_DATA_DIR + ").")
    Path dataDir;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the image draw (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @Option(names = "--progress-every", defaultValue = "5s", hidden = true)
    Duration progressEvery;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (!trigger.equals("badnets")) {
            throw new IllegalArgumentException("--trigger: only badnets is available in guard bench, got " + trigger);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        if (connections < 1 || connections > 64) {
            throw new IllegalArgumentException("--connections must be in [1, 64], got " + connections);
        }
        Duration bound = duration == null && requests == 0 ? DurationConverter.parse(DEFAULT_DURATION) : duration;
        BenchConfig config = new BenchConfig(model, mode, concurrency, rate, maxInFlight, bound, requests, warmup);
        IdxImages data = IdxImages.testSet(dataDir);
        // Enough distinct batches that requests do not repeat quickly, few enough to stay small in memory.
        int pool = Math.max(1, Math.min(256, 20_000 / batch));
        Workload workload = Workload.create(data, batch, triggered, pool, seed);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<GuardClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < connections; i++) {
                clients.add(GuardClient.connect(connection.config(1)));
            }
            checkInputShape(clients.get(0).modelMetadata(model), data);
            boolean terminal = System.console() != null;
            ProgressLine progress = new ProgressLine(err, terminal, progressEvery.toMillis());
            LoadReport report = new LoadGenerator(clients, workload, config, progress,
                    terminal ? Duration.ofSeconds(1) : progressEvery).run();
            progress.finish();
            out.println(json ? Json.write(toJson(report, model)) : text(report, model));
            out.flush();
            if (report.sent() == 0) {
                // Exit 1 below: say why, or a script's log shows a failure with nothing failed in it.
                err.println(noneCompleted(duration == null ? null : spec.commandLine().getParseResult()
                        .matchedOption("--duration").originalStringValues().get(0), requests));
                err.flush();
            }
            // Nonzero when anything failed, so that a script notices; block mode's refusals are the guard working.
            return report.unexpectedErrorCount() > 0 || report.sent() == 0 ? ClientErrors.SERVER_ERROR : 0;
        } finally {
            clients.forEach(GuardClient::close);
        }
    }

    /**
     * Why a run exits 1 when no request completed, with its time bound: --duration as the user wrote it, or the
     * default as --help writes it and called the default, never as if the user had given it.
     *
     * @param written  --duration's text on the command line, or null when it was not given
     * @param requests --requests (0: none given, so the default duration bounded the run)
     */
    static String noneCompleted(String written, long requests) {
        String within = written != null ? " within --duration " + written
                : requests == 0 ? " within " + DEFAULT_DURATION + " (the default --duration)" : "";
        return "guard bench: no request completed" + within;
    }

    private static void checkInputShape(ModelInfo info, IdxImages data) {
        info.imageShape().ifPresent(shape -> {
            if (shape[0] != 1 || shape[1] != data.rows() || shape[2] != data.cols()) {
                throw new IllegalArgumentException("model " + info.name() + " takes " + shape[0] + "x" + shape[1]
                        + "x" + shape[2] + " images; the bench sends Fashion-MNIST 1x" + data.rows() + "x"
                        + data.cols());
            }
        });
    }

    static String text(LoadReport r, String model) {
        StringBuilder s = new StringBuilder();
        String loop = r.mode().equals("open")
                ? String.format(Locale.ROOT, "open loop at %.1f req/s (max in flight %d)", r.targetRate(), r.concurrency())
                : "closed loop, concurrency " + r.concurrency();
        s.append(String.format(Locale.ROOT, "guard bench: model %s, %s, batch %d, %.2f s measured%n",
                model, loop, r.batch(), r.seconds()));
        StringBuilder errors = new StringBuilder();
        r.errors().forEach((code, count) -> errors.append(errors.length() == 0 ? " (" : ", ").append(code)
                .append(' ').append(count));
        if (errors.length() > 0) {
            errors.append(')');
        }
        s.append(String.format(Locale.ROOT, "requests    sent %d  ok %d  errors %d%s  dropped/late %d%n",
                r.sent(), r.ok(), r.errorCount(), errors, r.dropped()));
        r.errorExamples().forEach((code, message) -> s.append(String.format(Locale.ROOT, "  first %s: %s%n", code,
                message)));
        s.append(String.format(Locale.ROOT, "throughput  %.1f requests/s  %.1f items/s%n",
                r.requestsPerSecond(), r.itemsPerSecond()));
        Map<String, Double> l = r.latencyMillis();
        s.append(String.format(Locale.ROOT, "latency ms  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s%n",
                millis(l.get("p50")), millis(l.get("p90")), millis(l.get("p99")), millis(l.get("p99.9")),
                millis(l.get("max")), millis(r.meanMillis())));
        s.append(String.format(Locale.ROOT, "flagged     clean %d/%d (%s)  triggered %d/%d (%s)",
                r.cleanFlaggedOrBlocked(), r.cleanItems(), percent(r.cleanFlagRate()),
                r.triggeredFlaggedOrBlocked(), r.triggeredItems(), percent(r.triggeredFlagRate())));
        if (r.cleanBlocked() + r.triggeredBlocked() > 0) {
            s.append(String.format(Locale.ROOT, "%n            of which named by --mode block refusals: clean %d,"
                    + " triggered %d", r.cleanBlocked(), r.triggeredBlocked()));
        }
        if (r.stoppedBecause() != null) {
            s.append(String.format(Locale.ROOT, "%nSTOPPED EARLY: every further request would be refused the same"
                    + " way: %s", r.stoppedBecause()));
        }
        return s.toString();
    }

    static Map<String, Object> toJson(LoadReport r, String model) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("model", model);
        json.put("loop", r.mode());
        json.put("concurrency", r.mode().equals("closed") ? r.concurrency() : null);
        json.put("rate", r.mode().equals("open") ? r.targetRate() : null);
        json.put("max_in_flight", r.mode().equals("open") ? r.concurrency() : null);
        json.put("batch", r.batch());
        json.put("seconds", r.seconds());
        json.put("sent", r.sent());
        json.put("ok", r.ok());
        json.put("errors", r.errors());
        json.put("error_examples", r.errorExamples());
        json.put("dropped", r.dropped());
        json.put("items", r.items());
        json.put("requests_per_second", r.requestsPerSecond());
        json.put("items_per_second", r.itemsPerSecond());
        Map<String, Object> latency = new LinkedHashMap<>(r.latencyMillis());
        latency.put("mean", r.meanMillis());
        json.put("latency_ms", latency);
        Map<String, Object> flags = new LinkedHashMap<>();
        // As the text: flagged counts the items flagged in answers and those a block-mode refusal named (also given
        // alone as *_blocked); *_items are the items of answered and refused requests.
        flags.put("clean_items", r.cleanItems());
        flags.put("clean_flagged", r.cleanFlaggedOrBlocked());
        flags.put("clean_flag_rate", r.cleanFlagRate());
        flags.put("triggered_items", r.triggeredItems());
        flags.put("triggered_flagged", r.triggeredFlaggedOrBlocked());
        flags.put("triggered_flag_rate", r.triggeredFlagRate());
        flags.put("clean_blocked", r.cleanBlocked());
        flags.put("triggered_blocked", r.triggeredBlocked());
        json.put("guard", flags);
        json.put("stopped_early", r.stoppedBecause());
        return json;
    }

    /** NaN (no request completed) as n/a, as JSON's null. */
    private static String millis(double value) {
        return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%.2f", value);
    }

    private static String percent(double rate) {
        return Double.isNaN(rate) ? "n/a" : String.format(Locale.ROOT, "%.2f%%", 100 * rate);
    }
}
