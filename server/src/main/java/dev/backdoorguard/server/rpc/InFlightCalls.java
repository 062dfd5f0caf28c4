package dev.backdoorguard.server.rpc;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the calls of the drained services from the moment the transport accepts them until their stream closes,
 * answered or cancelled; graceful shutdown waits for zero.
 *
 * <p>The transport creates a call's tracer as it reads the call's headers, before any of the call's work is queued
 * on the call executor. Counting there also covers a call whose handler has not run yet: its request still
 * arriving, or its start queued behind other work. A count kept by the handlers missed those, and shutdownNow()
 * cancelled them. The stream closes once the last frame of the answer is written.
 *
 * <p>Only the named services are counted: the long-lived streams of the others (health Watch, reflection) would
 * hold the drain for its whole timeout.
 */
public final class InFlightCalls extends ServerStreamTracer.Factory {
    private static final ServerStreamTracer NOT_COUNTED = new ServerStreamTracer() {};

    private final Set<String> services;
    private final AtomicInteger count = new AtomicInteger();

    /** Counts the calls of {@code services}, by full service name ({@code inference.GRPCInferenceService}). */
    public InFlightCalls(Set<String> services) {
        this.services = Set.copyOf(services);
    }

    /** Calls accepted and not yet closed. */
    public int count() {
        return count.get();
    }

    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        String service = MethodDescriptor.extractFullServiceName(fullMethodName);  // null without a '/'
        if (service == null || !services.contains(service)) {  // Set.of's contains(null) throws
            return NOT_COUNTED;
        }
        count.incrementAndGet();
        return new ServerStreamTracer() {
            @Override
            public void streamClosed(Status status) {  // once per stream (gRPC's StatsTraceContext)
                count.decrementAndGet();
            }
        };
    }
}
