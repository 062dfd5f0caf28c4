package dev.backdoorguard.client;

/** The answer of {@code grpc.health.v1.Health/Check}. */
public enum HealthStatus {
    /** The server did not say. */
    UNKNOWN,
    /** Ready to serve. */
    SERVING,
    /** Up, but not ready (loading, draining or a model not ready). */
    NOT_SERVING,
    /** The server does not know the service name asked about. */
    SERVICE_UNKNOWN
}
