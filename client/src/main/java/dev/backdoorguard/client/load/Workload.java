package dev.backdoorguard.client.load;

import dev.backdoorguard.client.InputBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A fixed, seeded pool of request batches built once before the run, so the load generator spends its time sending,
 * not building tensors. A share of the items carries the badnets trigger; which ones is recorded per batch.
 */
public final class Workload {
    /** One prepared request: the batch and, per item, whether it carries the trigger. */
    public record Entry(InputBatch batch, boolean[] triggered) {
        public Entry {
            if (triggered.length != batch.size()) {
                throw new IllegalArgumentException("one trigger mark per item needed");
            }
            triggered = triggered.clone();
        }

        /** Whether item {@code i} carries the trigger. */
        public boolean isTriggered(int i) {
            return triggered[i];
        }
    }

    private final List<Entry> entries;

    private Workload(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /**
     * Builds {@code poolSize} batches of {@code batch} images drawn from {@code data} (seeded order); exactly
     * round({@code triggeredShare} * all items) of them get the badnets trigger.
     */
    public static Workload create(IdxImages data, int batch, double triggeredShare, int poolSize, long seed) {
        if (batch < 1 || poolSize < 1) {
            throw new IllegalArgumentException("batch and pool size must be >= 1");
        }
        if (!(triggeredShare >= 0 && triggeredShare <= 1)) {
            throw new IllegalArgumentException("triggered share must be in [0,1], got " + triggeredShare);
        }
        Random random = new Random(seed);
        int total = batch * poolSize;
        boolean[] marks = new boolean[total];
        long toTrigger = Math.round(triggeredShare * total);
        for (int i = 0; i < toTrigger; i++) {
            marks[i] = true;
        }
        for (int i = total - 1; i > 0; i--) { // Fisher-Yates: triggered items spread over the pool
            int j = random.nextInt(i + 1);
            boolean swap = marks[i];
            marks[i] = marks[j];
            marks[j] = swap;
        }
        int plane = data.rows() * data.cols();
        List<Entry> entries = new ArrayList<>(poolSize);
        for (int b = 0; b < poolSize; b++) {
            float[] pixels = new float[batch * plane];
            boolean[] triggered = new boolean[batch];
            for (int i = 0; i < batch; i++) {
                float[] image = data.image(random.nextInt(data.count()));
                triggered[i] = marks[b * batch + i];
                if (triggered[i]) {
                    BadNets.apply(image, 1, data.rows(), data.cols());
                }
                System.arraycopy(image, 0, pixels, i * plane, plane);
            }
            entries.add(new Entry(InputBatch.pixels(pixels, batch, 1, data.rows(), data.cols()), triggered));
        }
        return new Workload(entries);
    }

    /** Entry {@code sequence} modulo the pool size. */
    public Entry get(long sequence) {
        return entries.get((int) Math.floorMod(sequence, (long) entries.size()));
    }

    /** The number of prepared batches. */
    public int size() {
        return entries.size();
    }
}
