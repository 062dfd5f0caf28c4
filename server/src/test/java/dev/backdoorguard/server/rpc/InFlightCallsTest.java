package dev.backdoorguard.server.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.util.Set;
import org.junit.jupiter.api.Test;

class InFlightCallsTest {
    private final InFlightCalls calls = new InFlightCalls(Set.of("inference.GRPCInferenceService", "guard.v1.Guard"));

    @Test
    void countsTheNamedServicesCallsFromTheirStartUntilTheirStreamCloses() {
        ServerStreamTracer infer = calls.newServerStreamTracer("inference.GRPCInferenceService/ModelInfer",
                new Metadata());
        ServerStreamTracer inspect = calls.newServerStreamTracer("guard.v1.Guard/Inspect", new Metadata());
        assertThat(calls.count()).isEqualTo(2);

        infer.streamClosed(Status.OK);
        inspect.streamClosed(Status.CANCELLED);

        assertThat(calls.count()).isZero();
    }

    @Test
    void leavesOtherServicesUncounted() {
        calls.newServerStreamTracer("grpc.health.v1.Health/Watch", new Metadata());
        calls.newServerStreamTracer("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", new Metadata());
        calls.newServerStreamTracer("no-such-method", new Metadata()).streamClosed(Status.UNIMPLEMENTED);

        assertThat(calls.count()).isZero();
    }
}
