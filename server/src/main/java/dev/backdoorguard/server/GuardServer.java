package dev.backdoorguard.server;

import dev.backdoorguard.server.batch.DynamicBatcher;
import dev.backdoorguard.server.metrics.MetricsEndpoint;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.rpc.InFlightCalls;
import io.grpc.Server;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running guard server and everything it owns. {@link #close()} shuts down gracefully: health
 * goes NOT_SERVING, new calls are refused, queued and in-flight requests finish (up to the drain
 * timeout), then models, workers and the metrics endpoint are released.
 */
public final class GuardServer implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(GuardServer.class);

    private final ServerConfig config;
    private final Server grpc;
    private final Server healthOnly;  // plaintext grpc.health.v1 for probes, or null
    private final ExecutorService grpcExecutor;
    private final ModelEvents events;
    private final ModelRepository models;
    private final InFlightCalls drained;  // the inference and guard calls shutdown waits for
    private final DynamicBatcher batcher;
    private final MetricsEndpoint metricsEndpoint;
    private final List<AutoCloseable> others;
    private boolean closed;

    GuardServer(ServerConfig config, Server grpc, Server healthOnly, ExecutorService grpcExecutor, ModelEvents events,
            ModelRepository models, InFlightCalls drained, DynamicBatcher batcher, MetricsEndpoint metricsEndpoint,
            List<AutoCloseable> others) {
        this.config = config;
        this.grpc = grpc;
        this.healthOnly = healthOnly;
        this.grpcExecutor = grpcExecutor;
        this.events = events;
        this.models = models;
        this.drained = drained;
        this.batcher = batcher;
        this.metricsEndpoint = metricsEndpoint;
        this.others = others;
    }

    /** The bound gRPC port (useful when the configuration asked for port 0). */
    public int port() {
        return grpc.getPort();
    }

    /** The bound metrics port, or -1 when the endpoint is disabled. */
    public int metricsPort() {
        return metricsEndpoint == null ? -1 : metricsEndpoint.port();
    }

    /** The bound plaintext health-only port, or -1 when there is none. */
    public int healthPort() {
        return healthOnly == null ? -1 : healthOnly.getPort();
    }

    /** Every address a listener is bound to: gRPC, then metrics and the health port when enabled (tests). */
    List<java.net.SocketAddress> listenAddresses() {
        List<java.net.SocketAddress> all = new java.util.ArrayList<>(grpc.getListenSockets());
        if (metricsEndpoint != null) {
            all.add(metricsEndpoint.address());
        }
        if (healthOnly != null) {
            all.addAll(healthOnly.getListenSockets());
        }
        return all;
    }

    /** The served models (tests and the composition root only). */
    ModelRepository models() {
        return models;
    }

    /** Blocks until the gRPC server has terminated. */
    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        logger.info("shutting down: draining for up to {} s", config.drainTimeout().toSeconds());
        events.terminate();
        grpc.shutdown();
        batcher.stopWaitingForCompany();
        // Inference and guard calls drain; long-lived streams (health Watch, reflection) would hold
        // awaitTermination for the whole timeout, so wait for those calls, not for them. They are counted
        // from the transport on: a call accepted before shutdown() whose handler has not run yet (request
        // still arriving, start queued on the call executor) is in flight too, and shutdownNow() would
        // cancel it.
        long until = System.nanoTime() + config.drainTimeout().toNanos();
        try {
            while (!grpc.awaitTermination(20, TimeUnit.MILLISECONDS)) {
                if (drained.count() == 0) {
                    break;
                }
                if (System.nanoTime() - until > 0) {
                    logger.warn("{} calls still in flight after {} s; cancelling them", drained.count(),
                            config.drainTimeout().toSeconds());
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        batcher.closeBy(until);  // one drain deadline for the whole shutdown
        grpc.shutdownNow();
        try {
            grpc.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Orderly: the response callbacks of the batches just completed are queued here, and each one
        // releases its model version; dropping them would keep those versions' native memory alive.
        grpcExecutor.shutdown();
        try {
            if (!grpcExecutor.awaitTermination(5, TimeUnit.SECONDS)) {
                grpcExecutor.shutdownNow();
            }
        } catch (InterruptedException e) {
            grpcExecutor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (healthOnly != null) {
            healthOnly.shutdownNow();  // after the drain, so probes saw NOT_SERVING meanwhile
        }
        for (AutoCloseable c : others) {  // the repository watch among them: stopped before the models close
            try {
                c.close();
            } catch (Exception e) {
                logger.warn("closing {} failed", c, e);
            }
        }
        models.close();
        if (metricsEndpoint != null) {
            metricsEndpoint.close();
        }
        logger.info("stopped");
    }
}
