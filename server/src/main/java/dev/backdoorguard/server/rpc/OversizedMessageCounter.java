package dev.backdoorguard.server.rpc;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;

/**
 * Counts calls whose message gRPC's transport refused as larger than --max-message-bytes. Such a call never reaches a
 * service or an interceptor as a message: the interceptors see only a cancellation (Micrometer's counts it as
 * CANCELLED) while the client gets RESOURCE_EXHAUSTED. The stream tracer sees the real end: closed with
 * RESOURCE_EXHAUSTED before any inbound message was delivered. (A full queue is RESOURCE_EXHAUSTED too, but only
 * after its message arrived.)
 */
public final class OversizedMessageCounter extends ServerStreamTracer.Factory {
    private final Runnable onRefusal;

    /** {@code onRefusal} runs once per refused call (on a transport thread: keep it cheap). */
    public OversizedMessageCounter(Runnable onRefusal) {
        this.onRefusal = onRefusal;
    }

    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        return new ServerStreamTracer() {
            private volatile boolean received;

            @Override
            public void inboundMessage(int seqNo) {
                received = true;
            }

            @Override
            public void streamClosed(Status status) {
                if (!received && status.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                    onRefusal.run();
                }
            }
        };
    }
}
