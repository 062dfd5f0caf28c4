package dev.backdoorguard.server.batch;

import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.server.metrics.GuardMetrics;
import dev.backdoorguard.server.repository.ModelUnavailableException;
import dev.backdoorguard.server.repository.ServedModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bounded queue feeding a fixed pool of inference workers. A worker takes the first waiting
 * request, then gathers more for up to {@code maxDelay} (with 0, the default, only those already
 * queued) or until {@code maxBatch} items, groups
 * them by model version and guard setting, drops those whose deadline has passed, and runs each
 * group as ONE {@code Guard.predict} call (which opens its own native scope); the result is split
 * back per request. A full queue fails fast with {@link QueueFullException}.
 */
public final class DynamicBatcher implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(DynamicBatcher.class);
    private static final long IDLE_POLL_MS = 50;
    private static final long IDLE_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(IDLE_POLL_MS);

    private record Job(ServedModel model, PixelBatch batch, boolean guard, long deadlineNanos, long enqueuedNanos,
            CompletableFuture<BatchPrediction> result) {}

    private record GroupKey(ServedModel model, boolean guard) {}

    private final BatcherConfig config;
    private final GuardMetrics metrics;
    private final BlockingQueue<Job> queue;
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean accepting = true;
    private volatile boolean shuttingDown;

    public DynamicBatcher(BatcherConfig config, GuardMetrics metrics) {
        this.config = config;
        this.metrics = metrics;
        this.queue = new ArrayBlockingQueue<>(config.queueCapacity());
        for (int i = 0; i < config.workers(); i++) {
            Thread t = new Thread(this::work, "guard-inference-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
    }

    /**
     * Queues {@code batch} for {@code model}; the future completes with this request's own rows.
     *
     * @param deadlineNanos a {@link System#nanoTime()} instant after which the request is dropped
     *     before compute, or {@link Long#MAX_VALUE} for none
     */
    public CompletableFuture<BatchPrediction> submit(ServedModel model, PixelBatch batch, boolean guard,
            long deadlineNanos) {
        if (!accepting) {
            throw new ModelUnavailableException("server is shutting down");
        }
        Job job = new Job(model, batch, guard, deadlineNanos, System.nanoTime(), new CompletableFuture<>());
        // Counted before the offer: a worker may finish the job before offer() even returns.
        metrics.pending(model.name()).incrementAndGet();
        if (!queue.offer(job)) {
            metrics.pending(model.name()).decrementAndGet();
            throw new QueueFullException("inference queue is full (" + config.queueCapacity()
                    + " requests waiting); retry later");
        }
        return job.result();
    }

    private void work() {
        Job carry = null;
        while (true) {
            List<Job> jobs = new ArrayList<>();
            try {
                Job first = carry != null ? carry : queue.poll(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
                carry = null;
                if (first == null) {
                    if (!accepting && queue.isEmpty()) {
                        return;
                    }
                    continue;
                }
                jobs.add(first);
                int items = first.batch().size();
                long until = System.nanoTime() + config.maxDelay().toNanos();
                while (items < config.maxBatch()) {
                    long wait = until - System.nanoTime();
                    // Waited in slices: once shutdown begins, little or no company can come, so the batch
                    // runs now rather than after a long --max-batch-delay-ms (it would miss the drain).
                    Job next = wait > 0 ? queue.poll(Math.min(wait, IDLE_POLL_NANOS), TimeUnit.NANOSECONDS)
                            : queue.poll();
                    if (next == null) {
                        if (wait > IDLE_POLL_NANOS && !shuttingDown) {
                            continue;
                        }
                        break;
                    }
                    if (items + next.batch().size() > config.maxBatch()) {
                        carry = next;  // starts this worker's next batch, so no batch exceeds maxBatch
                        break;
                    }
                    jobs.add(next);
                    items += next.batch().size();
                }
            } catch (InterruptedException e) {
                fail(jobs, new ModelUnavailableException("server is shutting down"));
                if (carry != null) {
                    fail(List.of(carry), new ModelUnavailableException("server is shutting down"));
                }
                return;
            }
            Map<GroupKey, List<Job>> groups = new LinkedHashMap<>();
            for (Job job : jobs) {
                groups.computeIfAbsent(new GroupKey(job.model(), job.guard()), k -> new ArrayList<>()).add(job);
            }
            groups.forEach((key, group) -> execute(key, group));
        }
    }

    private void execute(GroupKey key, List<Job> group) {
        long now = System.nanoTime();
        List<Job> live = new ArrayList<>();
        for (Job job : group) {
            metrics.queue(key.model().name()).record(now - job.enqueuedNanos(), TimeUnit.NANOSECONDS);
            key.model().stats().queue.add(now - job.enqueuedNanos());
            if (now - job.deadlineNanos() > 0 && job.deadlineNanos() != Long.MAX_VALUE) {
                done(job, null, new DeadlineExpiredException("deadline passed after "
                        + TimeUnit.NANOSECONDS.toMillis(now - job.enqueuedNanos()) + " ms in the queue; dropped"
                        + " before compute"));
            } else {
                live.add(job);
            }
        }
        if (live.isEmpty()) {
            return;
        }
        ServedModel model = key.model();
        String name = model.name();
        try {
            long t0 = System.nanoTime();
            PixelBatch batch = concatenate(live);
            long t1 = System.nanoTime();
            BatchPrediction prediction = model.guard().predict(batch, key.guard());
            long t2 = System.nanoTime();
            List<BatchPrediction> parts = split(prediction, live);
            long t3 = System.nanoTime();
            metrics.compute(name, GuardMetrics.Stage.INPUT).record(t1 - t0, TimeUnit.NANOSECONDS);
            metrics.compute(name, GuardMetrics.Stage.INFER).record(t2 - t1, TimeUnit.NANOSECONDS);
            metrics.compute(name, GuardMetrics.Stage.OUTPUT).record(t3 - t2, TimeUnit.NANOSECONDS);
            model.stats().computeInput.add(t1 - t0);
            model.stats().computeInfer.add(t2 - t1);
            model.stats().computeOutput.add(t3 - t2);
            model.stats().recordExecution(batch.size());
            for (int i = 0; i < live.size(); i++) {
                done(live.get(i), parts.get(i), null);
            }
            recordExecution(model, batch.size(), prediction, t2 - t1);
        } catch (RuntimeException | LinkageError e) {
            // One bad batch must never kill the worker: fail its requests and keep serving.
            logger.error("inference on model {} version {} failed", name, model.version(), e);
            for (Job job : live) {
                done(job, null, e);
            }
        }
    }

    private void recordExecution(ServedModel model, int items, BatchPrediction prediction, long inferNanos) {
        try {
            metrics.execution(model, items, prediction, inferNanos);
        } catch (RuntimeException e) {
            // Answers are already sent; a metrics problem must not fail requests.
            logger.warn("recording metrics for model {} failed", model.name(), e);
        }
    }

    private void done(Job job, BatchPrediction result, Throwable failure) {
        metrics.pending(job.model().name()).decrementAndGet();
        if (failure != null) {
            job.result().completeExceptionally(failure);
        } else {
            job.result().complete(result);
        }
    }

    private void fail(List<Job> jobs, RuntimeException failure) {
        for (Job job : jobs) {
            done(job, null, failure);
        }
    }

    private static PixelBatch concatenate(List<Job> jobs) {
        if (jobs.size() == 1) {
            return jobs.get(0).batch();
        }
        PixelBatch first = jobs.get(0).batch();
        int size = jobs.stream().mapToInt(j -> j.batch().size()).sum();
        float[] pixels = new float[size * first.imageSize()];
        int offset = 0;
        for (Job job : jobs) {
            float[] p = job.batch().pixels();
            System.arraycopy(p, 0, pixels, offset, p.length);
            offset += p.length;
        }
        return new PixelBatch(pixels, size, first.channels(), first.height(), first.width());
    }

    private static List<BatchPrediction> split(BatchPrediction all, List<Job> jobs) {
        if (jobs.size() == 1) {
            return List.of(all);
        }
        List<BatchPrediction> parts = new ArrayList<>(jobs.size());
        int k = all.numClasses();
        int row = 0;
        for (Job job : jobs) {
            int n = job.batch().size();
            float[] logits = new float[n * k];
            float[] probabilities = new float[n * k];
            int[] labels = new int[n];
            System.arraycopy(all.logits(), row * k, logits, 0, n * k);
            System.arraycopy(all.probabilities(), row * k, probabilities, 0, n * k);
            System.arraycopy(all.labels(), row, labels, 0, n);
            float[] scores = null;
            boolean[] flags = null;
            if (all.isGuarded()) {
                scores = new float[n];
                flags = new boolean[n];
                System.arraycopy(all.scores(), row, scores, 0, n);
                System.arraycopy(all.flags(), row, flags, 0, n);
            }
            parts.add(new BatchPrediction(n, k, logits, probabilities, labels, scores, flags));
            row += n;
        }
        return parts;
    }

    /**
     * Stops accepting, lets the workers drain the queue for up to the drain timeout, then fails what
     * is left with UNAVAILABLE.
     */
    @Override
    public void close() {
        closeBy(System.nanoTime() + config.drainTimeout().toNanos());
    }

    /**
     * Shutdown has begun: batches stop waiting for company (requests already received are still
     * accepted and served), so that what is queued runs within the drain.
     */
    public void stopWaitingForCompany() {
        shuttingDown = true;
    }

    /** As {@link #close()}, draining until {@code untilNanos} ({@link System#nanoTime()} clock). */
    public void closeBy(long untilNanos) {
        stopWaitingForCompany();
        accepting = false;
        long until = untilNanos;
        for (Thread t : workers) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        workers.forEach(Thread::interrupt);
        List<Job> left = new ArrayList<>();
        queue.drainTo(left);
        fail(left, new ModelUnavailableException("server is shutting down"));
    }
}
