package dev.backdoorguard.server.batch;

import java.time.Duration;
import java.util.Objects;

/**
 * The batcher's settings: worker threads, the most items per model execution, how long the first
 * request of a batch may wait for company, the queue's capacity in requests, and how long close()
 * waits for the queue to drain.
 */
public record BatcherConfig(int workers, int maxBatch, Duration maxDelay, int queueCapacity, Duration drainTimeout) {
    public BatcherConfig {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("max batch must be >= 1, got " + maxBatch);
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queue capacity must be >= 1, got " + queueCapacity);
        }
        Objects.requireNonNull(maxDelay, "maxDelay");
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        if (maxDelay.isNegative() || drainTimeout.isNegative()) {
            throw new IllegalArgumentException("max delay and drain timeout must not be negative");
        }
    }
}
