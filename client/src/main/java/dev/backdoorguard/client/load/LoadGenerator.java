package dev.backdoorguard.client.load;

import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.InputBlockedException;
import dev.backdoorguard.client.PredictRequest;
import dev.backdoorguard.client.Prediction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * Drives one or more {@link GuardClient}s (one HTTP/2 connection each) with the requests of a {@link Workload} as
 * {@link BenchConfig} says: an optional warm-up phase whose numbers are discarded, then the measured phase. Every
 * request sent is accounted for as a success or an error by gRPC code; the run waits for its last answers (bounded by
 * the client's deadline) before reporting. Closed-loop caller c uses connection c mod n; the open loop takes them in
 * turn.
 */
public final class LoadGenerator {
    private static final long UNAVAILABLE_PAUSE_MS = 100;
    /**
     * Codes that say the request itself is wrong for this server (too many items, unknown model, no token): every
     * further request of the run would get the same answer, so the first one ends the run instead of filling its
     * duration with errors.
     */
    private static final Set<String> ENDS_THE_RUN = Set.of("INVALID_ARGUMENT", "NOT_FOUND", "UNIMPLEMENTED",
            "UNAUTHENTICATED", "PERMISSION_DENIED");

    private final List<GuardClient> clients;
    private final Workload workload;
    private final BenchConfig config;
    private final Consumer<LoadProgress> progress;
    private final Duration progressEvery;

    /**
     * @param clients  the connections to spread the load over (at least one; the caller closes them)
     * @param progress receives a snapshot every {@code progressEvery} while a phase runs (on its own thread)
     */
    public LoadGenerator(List<GuardClient> clients, Workload workload, BenchConfig config,
            Consumer<LoadProgress> progress, Duration progressEvery) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("the load generator needs at least one connection");
        }
        this.clients = List.copyOf(clients);
        this.workload = workload;
        this.config = config;
        this.progress = progress;
        this.progressEvery = progressEvery;
    }

    /** Runs the warm-up (if any) and the measured phase; returns the measured phase's report. */
    public LoadReport run() throws InterruptedException {
        AtomicLong sequence = new AtomicLong();
        if (!config.warmup().isZero()) {
            LoadReport warmup = runPhase("warm-up", config.warmup(), 0, sequence);
            if (warmup.stoppedBecause() != null) {
                return warmup; // measuring would only repeat the refusal
            }
        }
        return runPhase("measure", config.duration(), config.requests(), sequence);
    }

    private LoadReport runPhase(String phase, Duration duration, long requests, AtomicLong sequence)
            throws InterruptedException {
        LoadStats stats = new LoadStats();
        long start = System.nanoTime();
        long end = duration == null ? Long.MAX_VALUE : start + duration.toNanos();
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "bench-progress");
            thread.setDaemon(true);
            return thread;
        });
        double planned = duration == null ? 0 : duration.toMillis() / 1000.0;
        ticker.scheduleAtFixedRate(() -> progress.accept(snapshot(phase, stats, start, planned, false)),
                progressEvery.toMillis(), progressEvery.toMillis(), TimeUnit.MILLISECONDS);
        try {
            if (config.openLoop()) {
                openLoop(stats, start, end, requests, sequence);
            } else {
                closedLoop(stats, end, requests, sequence);
            }
        } finally {
            ticker.shutdownNow();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        progress.accept(snapshot(phase, stats, start, planned, true));
        return report(phase, stats, seconds);
    }

    /**
     * {@code concurrency} callers, each with one call in flight: a caller sends its next request from the
     * callback of the previous answer. No thread waits per caller, so on a machine the server shares the
     * generator costs less CPU than one blocked thread per caller (each answer would wake a thread: a context
     * switch on each side).
     */
    private void closedLoop(LoadStats stats, long end, long requests, AtomicLong sequence)
            throws InterruptedException {
        ScheduledExecutorService pauses = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "bench-backoff");
            thread.setDaemon(true);
            return thread;
        });
        ClosedLoop loop = new ClosedLoop(stats, end, requests, sequence, pauses);
        try {
            for (int c = 0; c < config.concurrency(); c++) {
                loop.sendNext(clients.get(c % clients.size()));
            }
            // Every call ends by its deadline and every caller counts down once, even one that broke.
            loop.finished.await();
        } finally {
            pauses.shutdownNow();
        }
        if (loop.broken.get() != null) {
            throw new IllegalStateException("a closed-loop caller failed", loop.broken.get());
        }
    }

    /** One phase of the closed loop: what its callers share. A caller is its connection and its call in flight. */
    private final class ClosedLoop {
        private final LoadStats stats;
        private final long end;
        private final long requests;
        private final AtomicLong sequence;
        private final AtomicLong tickets = new AtomicLong();
        private final CountDownLatch finished = new CountDownLatch(config.concurrency());
        private final AtomicReference<Throwable> broken = new AtomicReference<>();
        private final ScheduledExecutorService pauses;

        ClosedLoop(LoadStats stats, long end, long requests, AtomicLong sequence, ScheduledExecutorService pauses) {
            this.stats = stats;
            this.end = end;
            this.requests = requests;
            this.sequence = sequence;
            this.pauses = pauses;
        }

        /**
         * After an UNAVAILABLE answer (the server is gone, not ready or shutting down) the caller pauses before its
         * next send: resending at once would spin, counting hundreds of thousands of errors a second.
         */
        private boolean pausedAfter(Throwable failure, GuardClient client) {
            if (failure == null || !"UNAVAILABLE".equals(codeOf(failure))) {
                return false;
            }
            pauses.schedule(() -> resume(client), UNAVAILABLE_PAUSE_MS, TimeUnit.MILLISECONDS);
            return true;
        }

        /** sendNext from the pause timer, guarded as the answer callback is (see there). */
        private void resume(GuardClient client) {
            try {
                sendNext(client);
            } catch (Throwable t) {
                broken.compareAndSet(null, t);
                finished.countDown();
            }
        }

        /**
         * One caller on {@code client}: sends until a call is in flight or the phase is over, then counts down
         * once. An answer that is already there when the call returns is taken in this loop rather than by a
         * callback, so a run of immediate failures does not grow the stack; only an answer that lands between the
         * check and the callback's registration runs the callback on this stack (one frame, rarely).
         */
        void sendNext(GuardClient client) {
            while (System.nanoTime() < end && !stats.stopped()
                    && (requests == 0 || tickets.getAndIncrement() < requests)) {
                Workload.Entry entry = workload.get(sequence.getAndIncrement());
                long sentAt = System.nanoTime();
                stats.sent.increment();
                CompletableFuture<Prediction> answer;
                try {
                    answer = client.predictAsync(request(entry));
                } catch (RuntimeException e) {
                    stats.failure("CLIENT_ERROR", e.toString());
                    continue;
                }
                if (!answer.isDone()) {
                    answer.whenComplete((prediction, failure) -> {
                        try {
                            record(entry, sentAt, prediction, failure);
                            if (!pausedAfter(failure, client)) {
                                sendNext(client);
                            }
                        } catch (Throwable t) {
                            // Thrown before this caller counted down (an Error, or a bug): swallowed by the future,
                            // it would leave the run waiting forever; end the caller and fail the run instead.
                            broken.compareAndSet(null, t);
                            finished.countDown();
                        }
                    });
                    return;
                }
                Throwable failure = failureOf(answer);
                record(entry, sentAt, failure == null ? answer.join() : null, failure);
                if (pausedAfter(failure, client)) {
                    return;
                }
            }
            finished.countDown();
        }

        /** Never throws: an exception escaping a callback would end this caller without counting it down. */
        private void record(Workload.Entry entry, long sentAt, Prediction prediction, Throwable failure) {
            try {
                if (failure == null) {
                    stats.success(entry, prediction, (System.nanoTime() - sentAt) / 1_000);
                } else {
                    recordFailure(stats, entry, failure);
                }
            } catch (RuntimeException e) {
                stats.failure("CLIENT_ERROR", e.toString());
            }
        }
    }

    private static void recordFailure(LoadStats stats, Workload.Entry entry, Throwable failure) {
        String code = codeOf(failure);
        stats.failure(code, messageOf(failure));
        if (causeOf(failure) instanceof InputBlockedException blocked) {
            stats.blocked(entry, blocked.namedItems());
        } else if (ENDS_THE_RUN.contains(code)) {
            stats.stop(code + ": " + messageOf(failure));
        }
    }

    private static Throwable failureOf(CompletableFuture<Prediction> done) {
        try {
            done.join();
            return null;
        } catch (CompletionException | CancellationException e) {
            return e;
        }
    }

    private static Throwable causeOf(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /** The gRPC code of a failed call, or CLIENT_ERROR when the failure is not the server's answer. */
    private static String codeOf(Throwable failure) {
        return causeOf(failure) instanceof GuardClientException e ? e.code().name() : "CLIENT_ERROR";
    }

    private static String messageOf(Throwable failure) {
        Throwable cause = causeOf(failure);
        return cause.getMessage() != null ? cause.getMessage() : cause.toString();
    }

    private void openLoop(LoadStats stats, long start, long end, long requests, AtomicLong sequence)
            throws InterruptedException {
        long period = Math.max(1, Math.round(1e9 / config.rate()));
        // A send more than this behind its slot is late: counting it as dropped keeps a stalled generator from
        // bursting its backlog at the server and calling that the server's load.
        long lateLimit = Math.max(TimeUnit.MILLISECONDS.toNanos(100), 10 * period);
        Semaphore inFlight = new Semaphore(config.maxInFlight());
        for (long i = 0; requests == 0 || i < requests; i++) {
            long scheduled = start + i * period;
            if (scheduled - end >= 0) {
                break;
            }
            long now;
            while ((now = System.nanoTime()) < scheduled) {
                LockSupport.parkNanos(scheduled - now);
            }
            if (stats.stopped()) {
                break; // a refusal arrived while this send waited for its slot
            }
            if (now - scheduled > lateLimit || !inFlight.tryAcquire()) {
                stats.dropped.increment();
                continue;
            }
            Workload.Entry entry = workload.get(sequence.getAndIncrement());
            stats.sent.increment();
            try {
                clients.get((int) (i % clients.size())).predictAsync(request(entry)).whenComplete((prediction, failure) -> {
                    try {
                        if (failure == null) {
                            stats.success(entry, prediction, (System.nanoTime() - scheduled) / 1_000);
                        } else {
                            recordFailure(stats, entry, failure);
                        }
                    } finally {
                        inFlight.release();
                    }
                });
            } catch (RuntimeException e) {
                stats.failure("CLIENT_ERROR", e.toString());
                inFlight.release();
            }
        }
        // Every outstanding call ends by its deadline; the margin covers callbacks still running.
        long waitMillis = clients.get(0).config().deadline().toMillis() + 5_000;
        if (!inFlight.tryAcquire(config.maxInFlight(), waitMillis, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("calls still outstanding " + waitMillis + " ms after the run ended");
        }
    }

    private PredictRequest request(Workload.Entry entry) {
        return PredictRequest.of(config.model(), entry.batch()).withMode(config.mode());
    }

    private static LoadProgress snapshot(String phase, LoadStats stats, long start, double planned,
            boolean finished) {
        return new LoadProgress(phase, (System.nanoTime() - start) / 1e9, planned, stats.sent.sum(), stats.ok.sum(),
                stats.errorCount(), stats.dropped.sum(), finished);
    }

    private LoadReport report(String phase, LoadStats stats, double seconds) {
        Histogram latencies = stats.latencyMicros.copy();
        Map<String, Double> percentiles = new LinkedHashMap<>();
        boolean empty = latencies.getTotalCount() == 0;
        percentiles.put("p50", empty ? Double.NaN : latencies.getValueAtPercentile(50) / 1000.0);
        percentiles.put("p90", empty ? Double.NaN : latencies.getValueAtPercentile(90) / 1000.0);
        percentiles.put("p99", empty ? Double.NaN : latencies.getValueAtPercentile(99) / 1000.0);
        percentiles.put("p99.9", empty ? Double.NaN : latencies.getValueAtPercentile(99.9) / 1000.0);
        percentiles.put("max", empty ? Double.NaN : latencies.getMaxValue() / 1000.0);
        return new LoadReport(config.openLoop() ? "open" : "closed",
                config.openLoop() ? config.maxInFlight() : config.concurrency(), config.rate(),
                workload.get(0).batch().size(), seconds, stats.sent.sum(), stats.ok.sum(), stats.errorsByCode(),
                stats.errorExamples(), stats.dropped.sum(), stats.items.sum(), percentiles,
                empty ? Double.NaN : latencies.getMean() / 1000.0,
                stats.cleanItems.sum(), stats.cleanFlagged.sum(), stats.triggeredItems.sum(),
                stats.triggeredFlagged.sum(), stats.cleanBlocked.sum(), stats.triggeredBlocked.sum(),
                stats.stopped() && phase.equals("warm-up") ? "in the warm-up (nothing was measured): "
                        + stats.stoppedBecause() : stats.stoppedBecause());
    }
}
