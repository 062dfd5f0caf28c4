package dev.backdoorguard.server.metrics;

import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.server.repository.ServedModel;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code guard.*} meters of serving-ecosystem.md §4.7, in one place. Tag values stay bounded:
 * model names and versions come from the repository (never from clients), classes are bounded by
 * K, outcomes, reasons, stages, actions and results are fixed vocabularies.
 *
 * <p>The meters of the request path are looked up once per model version (or model name) and kept:
 * building a meter id and registering it on every request costs allocations and a map lookup per
 * meter. The per-version cache is weak, so a retired version's entry goes with its {@link ServedModel}.
 */
public final class GuardMetrics {
    /** The detector tag value when a model has no calibrated detector. */
    public static final String NO_DETECTOR = "none";
    private static final Duration MIN = Duration.ofMillis(1);
    private static final Duration MAX = Duration.ofSeconds(10);
    private static final Duration SLO = Duration.ofMillis(100);

    private final MeterRegistry registry;
    private final Map<String, AtomicInteger> pending = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> ready = new ConcurrentHashMap<>();
    private final Map<ServedModel, VersionMeters> byVersion = Collections.synchronizedMap(new WeakHashMap<>());
    private final Map<String, Timer> queueByModel = new ConcurrentHashMap<>();
    private final Map<String, Timer[]> computeByModel = new ConcurrentHashMap<>();

    public GuardMetrics(MeterRegistry registry, String version, String commit, String djl, String engine) {
        this.registry = registry;
        Gauge.builder("guard.build.info", () -> 1)
                .description("Build information; the value is always 1")
                .tags("version", version, "commit", commit, "djl", djl, "engine", engine)
                .register(registry);
    }

    /** One finished ModelInfer call. {@code reason} is a status code name or "ok". */
    public void request(ServedModel model, boolean success, String reason, long nanos) {
        VersionMeters meters = meters(model);
        meters.outcomes.computeIfAbsent(success ? reason : "failure\u0000" + reason, key ->
                Counter.builder("guard.inference.requests")
                        .description("Inference requests by outcome")
                        .tags("model", model.name(), "version", model.version(), "outcome",
                                success ? "success" : "failure", "reason", reason)
                        .register(registry)).increment();
        meters.request.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Time a request waited in the batcher's queue. */
    public Timer queue(String model) {
        return queueByModel.computeIfAbsent(model, m ->
                latency("guard.inference.queue", "Time requests wait in the batcher's queue")
                        .tags("model", m).register(registry));
    }

    /** The compute stages, in the order of {@link #compute(String, Stage)}'s timers. */
    public enum Stage {
        /** Batch assembly. */
        INPUT,
        /** The model's forward pass (and the detector's scoring). */
        INFER,
        /** Splitting the batch's results per request. */
        OUTPUT;

        String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Time of one compute stage. */
    public Timer compute(String model, Stage stage) {
        return computeByModel.computeIfAbsent(model, m -> {
            Timer[] timers = new Timer[Stage.values().length];
            for (Stage st : Stage.values()) {
                timers[st.ordinal()] = latency("guard.inference.compute", "Compute time per stage")
                        .tags("model", m, "stage", st.tag()).register(registry);
            }
            return timers;
        })[stage.ordinal()];
    }

    /** Requests queued or computing for {@code model} (the gauge reads this counter). */
    public AtomicInteger pending(String model) {
        return pending.computeIfAbsent(model, m -> {
            AtomicInteger value = new AtomicInteger();
            Gauge.builder("guard.inference.pending", value, AtomicInteger::get)
                    .description("Requests queued or in compute").tags("model", m).register(registry);
            return value;
        });
    }

    /** One model execution: items, batch size, predicted classes and, when guarded, detector scores. */
    public void execution(ServedModel model, int items, BatchPrediction prediction, long inferNanos) {
        VersionMeters meters = meters(model);
        meters.items.increment(items);
        meters.executions.increment();
        meters.batchSize.record(items);
        int[] perClass = new int[prediction.numClasses()];
        for (int label : prediction.labels()) {
            perClass[label]++;
        }
        for (int k = 0; k < perClass.length; k++) {
            if (perClass[k] > 0) {
                meters.prediction(k).increment(perClass[k]);
            }
        }
        if (prediction.isGuarded()) {
            DistributionSummary scores = meters.scores();
            for (float s : prediction.scores()) {
                if (Float.isFinite(s)) {
                    scores.record(s);
                }
            }
            // The critical-layer detector scores from the same forward pass, so its cost cannot be
            // separated: this timer records the whole guarded execution.
            meters.detector().record(inferNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Items the detector flagged, by the action taken ({@code flag} or {@code block}). */
    public void flagged(ServedModel model, String action, int count) {
        meters(model).flagged.computeIfAbsent(action, a ->
                Counter.builder("guard.inputs.flagged").description("Inputs the detector flagged")
                        .tags("model", model.name(), "detector", detectorName(model), "action", a)
                        .register(registry)).increment(count);
    }

    /**
     * A call refused by the transport because its message exceeded --max-message-bytes: no model or method label
     * (the message was never read, and a client chooses the method name, so neither is bounded).
     */
    public void messageTooLarge() {
        Counter.builder("guard.requests.too.large")
                .description("Calls refused with RESOURCE_EXHAUSTED because the message exceeded --max-message-bytes")
                .register(registry).increment();
    }

    /** Marks a model version live (1) or retired (0). */
    public void ready(String model, String version, boolean isReady) {
        ready.computeIfAbsent(model + "\u0000" + version, key -> {
            AtomicInteger value = new AtomicInteger();
            Gauge.builder("guard.model.ready", value, AtomicInteger::get)
                    .description("1 while the model version serves").tags("model", model, "version", version)
                    .register(registry);
            return value;
        }).set(isReady ? 1 : 0);
    }

    /**
     * Removes the readiness series of a model that was unloaded on purpose: a 0 that stays would keep
     * GuardModelNotReady firing for a model nobody expects to serve. A later load registers them again.
     */
    public void forgetReadiness(String model) {
        ready.keySet().removeIf(key -> key.startsWith(model + "\u0000"));
        registry.find("guard.model.ready").tag("model", model).gauges().forEach(registry::remove);
    }

    /**
     * One load attempt of a model of the repository: its duration and its result ({@code success} or
     * {@code failure}). The spec's label is the result; the model is added so that an operator sees which model failed
     * to reload (bounded: only a directory of the repository with a version gets this far).
     */
    public void load(String model, long nanos, boolean success) {
        latency("guard.model.load", "Model load and warm-up time").tags("model", model).register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
        Counter.builder("guard.model.reloads").description("Model loads and reloads by result")
                .tags("model", model, "result", success ? "success" : "failure").register(registry).increment();
    }

    /** The detector tag value of a model. */
    public static String detectorName(ServedModel model) {
        return model.guard().detector().map(d -> d.method()).orElse(NO_DETECTOR);
    }

    private VersionMeters meters(ServedModel model) {
        return byVersion.computeIfAbsent(model, VersionMeters::new);
    }

    /**
     * The meters of one served version, registered on first use (so a series appears only once it
     * has something to count, as before the cache).
     */
    private final class VersionMeters {
        // Strings only: a reference to the ServedModel would keep the weak cache's key alive.
        private final String name;
        private final String detectorName;
        private final Timer request;
        private final Counter items;
        private final Counter executions;
        private final DistributionSummary batchSize;
        private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();
        private final Map<String, Counter> flagged = new ConcurrentHashMap<>();
        private final Map<Integer, Counter> predictions = new ConcurrentHashMap<>();
        private volatile DistributionSummary scores;
        private volatile Timer detector;

        VersionMeters(ServedModel model) {
            this.name = model.name();
            this.detectorName = detectorName(model);
            String version = model.version();
            this.request = latency("guard.inference.request", "End-to-end request time in the server")
                    .tags("model", name, "version", version).register(registry);
            this.items = Counter.builder("guard.inference.items").description("Items (images) inferred")
                    .tags("model", name, "version", version).register(registry);
            this.executions = Counter.builder("guard.inference.executions").description("Model executions (batches)")
                    .tags("model", name, "version", version).register(registry);
            this.batchSize = DistributionSummary.builder("guard.batch.size").description("Items per model execution")
                    .tags("model", name).serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64).register(registry);
        }

        Counter prediction(int k) {
            return predictions.computeIfAbsent(k, c -> Counter.builder("guard.predictions")
                    .description("Predictions per class")
                    .tags("model", name, "class", Integer.toString(c)).register(registry));
        }

        // Registering twice returns the same meter, so a racy first use is harmless.
        DistributionSummary scores() {
            if (scores == null) {
                scores = DistributionSummary.builder("guard.detector.score")
                        .description("Detector scores (normalised margin z; larger is more suspicious)")
                        .tags("model", name, "detector", detectorName)
                        // Micrometer buckets must be > 0: every score <= 0.5 shares the first.
                        .serviceLevelObjectives(0.5, 1, 1.5, 2, 3, 4, 6, 8).register(registry);
            }
            return scores;
        }

        Timer detector() {
            if (detector == null) {
                detector = latency("guard.detector", "Guarded model executions (forward pass plus detector)")
                        .tags("model", name, "detector", detectorName).register(registry);
            }
            return detector;
        }
    }

    private static Timer.Builder latency(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(MIN).maximumExpectedValue(MAX).serviceLevelObjectives(SLO);
    }
}
