package dev.backdoorguard.server;

import dev.backdoorguard.server.metrics.GuardMetrics;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.repository.RepositoryListener;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;

/**
 * Turns repository events into metrics and health: the overall service ("") and the inference
 * service are SERVING only while every known model serves; each model name has its own status.
 */
final class ModelEvents implements RepositoryListener {
    static final String INFERENCE_SERVICE = "inference.GRPCInferenceService";

    private final GuardMetrics metrics;
    private final HealthStatusManager health;
    private volatile ModelRepository repository;
    private volatile boolean terminal;

    ModelEvents(GuardMetrics metrics, HealthStatusManager health) {
        this.metrics = metrics;
        this.health = health;
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(INFERENCE_SERVICE, ServingStatus.NOT_SERVING);
    }

    /** Connects the repository whose state health reports (it exists only after this listener). */
    void attach(ModelRepository models) {
        this.repository = models;
        changed();
    }

    /** Shutdown began: everything NOT_SERVING from now on. */
    void terminate() {
        terminal = true;
        health.enterTerminalState();
    }

    @Override
    public void loadFinished(String model, String version, long nanos, Throwable failure) {
        metrics.load(model, nanos, failure == null);
    }

    @Override
    public void versionState(String model, String version, boolean ready) {
        metrics.ready(model, version, ready);
    }

    @Override
    public void unloaded(String model) {
        metrics.forgetReadiness(model);
    }

    @Override
    public synchronized void changed() {
        ModelRepository models = repository;
        if (models == null || terminal) {
            return;
        }
        for (String name : models.knownNames()) {
            health.setStatus(name, models.isReady(name) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        }
        ServingStatus overall = models.allReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, overall);
        health.setStatus(INFERENCE_SERVICE, overall);
    }
}
