package dev.backdoorguard.server.repository;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Cumulative per-version counters behind Triton's ModelStatistics: counts and nanoseconds for
 * successful and failed requests, queueing and the three compute stages. Lock-free; read racily.
 */
public final class ModelStats {
    /** One Triton {@code StatisticDuration}: how often, and how long in total. */
    public static final class Duration {
        private final AtomicLong count = new AtomicLong();
        private final AtomicLong nanos = new AtomicLong();

        public void add(long ns) {
            count.incrementAndGet();
            nanos.addAndGet(ns);
        }

        public long count() {
            return count.get();
        }

        public long nanos() {
            return nanos.get();
        }
    }

    public final Duration success = new Duration();
    public final Duration fail = new Duration();
    public final Duration queue = new Duration();
    public final Duration computeInput = new Duration();
    public final Duration computeInfer = new Duration();
    public final Duration computeOutput = new Duration();
    private final AtomicLong inferenceCount = new AtomicLong();
    private final AtomicLong executionCount = new AtomicLong();
    private final AtomicLong lastInferenceMillis = new AtomicLong();

    /** Records one model execution over {@code items} items (from any number of requests). */
    public void recordExecution(int items) {
        executionCount.incrementAndGet();
        inferenceCount.addAndGet(items);
        lastInferenceMillis.set(System.currentTimeMillis());
    }

    public long inferenceCount() {
        return inferenceCount.get();
    }

    public long executionCount() {
        return executionCount.get();
    }

    public long lastInferenceMillis() {
        return lastInferenceMillis.get();
    }
}
