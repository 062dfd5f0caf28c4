package dev.backdoorguard.client.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.client.CannedInferenceServer;
import org.junit.jupiter.api.Test;

/** The workload triggers exactly the requested share of items, reproducibly per seed. */
class WorkloadTest {
    @Test
    void triggersTheRequestedShareReproducibly() throws Exception {
        IdxImages data = IdxImages.testSet(IdxImagesTest.FASHION);
        Workload a = Workload.create(data, 8, 0.1, 25, 3);
        Workload b = Workload.create(data, 8, 0.1, 25, 3);
        int triggered = 0;
        for (int e = 0; e < a.size(); e++) {
            for (int i = 0; i < 8; i++) {
                triggered += a.get(e).isTriggered(i) ? 1 : 0;
                assertThat(a.get(e).isTriggered(i)).isEqualTo(b.get(e).isTriggered(i));
            }
        }
        assertThat(triggered).isEqualTo(20); // 10% of 200 items
        assertThat(a.get(25)).isSameAs(a.get(0)); // the pool cycles
    }
}
