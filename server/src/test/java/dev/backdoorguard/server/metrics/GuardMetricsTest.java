package dev.backdoorguard.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.server.repository.RecordingGuard;
import dev.backdoorguard.server.repository.ServedModel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** The cached request-path meters count exactly what they were given, per model version. */
class GuardMetricsTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GuardMetrics metrics = new GuardMetrics(registry, "v", "c", "d", "e");

    @Test
    void requestsAreCountedPerVersionOutcomeAndReason() {
        ServedModel v1 = RecordingGuard.served("m", "1");
        ServedModel v2 = RecordingGuard.served("m", "2");
        for (int i = 0; i < 3; i++) {
            metrics.request(v1, true, "ok", 1_000_000);
        }
        metrics.request(v1, false, "INVALID_ARGUMENT", 2_000_000);
        metrics.request(v1, false, "INVALID_ARGUMENT", 2_000_000);
        metrics.request(v1, false, "NOT_FOUND", 2_000_000);
        metrics.request(v2, true, "ok", 1_000_000);

        assertThat(requests("1", "success", "ok")).isEqualTo(3);
        assertThat(requests("1", "failure", "INVALID_ARGUMENT")).isEqualTo(2);
        assertThat(requests("1", "failure", "NOT_FOUND")).isEqualTo(1);
        assertThat(requests("2", "success", "ok")).isEqualTo(1);
        assertThat(registry.get("guard.inference.request").tags("version", "1").timer().count()).isEqualTo(6);
        assertThat(registry.get("guard.inference.request").tags("version", "2").timer().totalTime(
                java.util.concurrent.TimeUnit.NANOSECONDS)).isEqualTo(1_000_000);
    }

    @Test
    void executionsCountItemsBatchesClassesAndScores() {
        ServedModel v1 = RecordingGuard.served("m", "1");
        metrics.execution(v1, 3, prediction(new int[] {2, 2, 0}, null), 5_000);
        metrics.execution(v1, 1, prediction(new int[] {2}, new float[] {0.7f}), 5_000);
        metrics.flagged(v1, "flag", 1);
        metrics.flagged(v1, "flag", 2);

        assertThat(registry.get("guard.inference.items").counter().count()).isEqualTo(4);
        assertThat(registry.get("guard.inference.executions").counter().count()).isEqualTo(2);
        assertThat(registry.get("guard.batch.size").summary().totalAmount()).isEqualTo(4);
        assertThat(registry.get("guard.predictions").tags("class", "2").counter().count()).isEqualTo(3);
        assertThat(registry.get("guard.predictions").tags("class", "0").counter().count()).isEqualTo(1);
        assertThat(registry.find("guard.predictions").tags("class", "1").counter()).isNull();
        assertThat(registry.get("guard.detector.score").tags("detector", GuardMetrics.NO_DETECTOR).summary().count())
                .isEqualTo(1);
        assertThat(registry.get("guard.detector").timer().count()).isEqualTo(1);
        assertThat(registry.get("guard.inputs.flagged").tags("action", "flag").counter().count()).isEqualTo(3);
    }

    @Test
    void computeTimersAreOnePerStage() {
        metrics.compute("m", GuardMetrics.Stage.INFER).record(java.time.Duration.ofMillis(2));
        metrics.compute("m", GuardMetrics.Stage.INFER).record(java.time.Duration.ofMillis(2));
        metrics.compute("m", GuardMetrics.Stage.OUTPUT).record(java.time.Duration.ofMillis(1));
        assertThat(registry.get("guard.inference.compute").tags("stage", "infer").timer().count()).isEqualTo(2);
        assertThat(registry.get("guard.inference.compute").tags("stage", "output").timer().count()).isEqualTo(1);
        assertThat(registry.get("guard.inference.compute").tags("stage", "input").timer().count()).isZero();
    }

    private double requests(String version, String outcome, String reason) {
        return registry.get("guard.inference.requests")
                .tags("model", "m", "version", version, "outcome", outcome, "reason", reason).counter().count();
    }

    private static BatchPrediction prediction(int[] labels, float[] scores) {
        int n = labels.length;
        boolean[] flags = scores == null ? null : new boolean[n];
        return new BatchPrediction(n, 3, new float[n * 3], new float[n * 3], labels, scores, flags);
    }
}
