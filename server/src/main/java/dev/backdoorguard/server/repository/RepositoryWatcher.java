package dev.backdoorguard.server.repository;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optional repository watch ({@code --watch-interval-ms}): polls {@link ModelRepository#poll()} on
 * one daemon thread. Polling rather than a file-system watch service: it sees changes on network and
 * container volumes too, and a version directory renamed into place is picked up whole.
 */
public final class RepositoryWatcher implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(RepositoryWatcher.class);

    private final ScheduledExecutorService timer;

    private RepositoryWatcher(ScheduledExecutorService timer) {
        this.timer = timer;
    }

    /** Starts polling {@code models} every {@code interval} (the first pass after one interval). */
    public static RepositoryWatcher start(ModelRepository models, Duration interval) {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "guard-repository-watch");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                models.poll();
            } catch (RuntimeException e) {  // a failing pass must not end the watch
                logger.warn("repository watch: {}", e.getMessage());
            }
        }, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        logger.info("watching the model repository every {} ms", interval.toMillis());
        return new RepositoryWatcher(timer);
    }

    @Override
    public void close() throws InterruptedException {
        timer.shutdownNow();
        timer.awaitTermination(10, TimeUnit.SECONDS);
    }
}
