package dev.backdoorguard.client.load;

import dev.backdoorguard.client.ItemResult;
import dev.backdoorguard.client.Prediction;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;

/** The counters of one phase of a run; updated from many threads. */
final class LoadStats {
    /** Latencies up to one hour in microseconds, 3 significant digits. */
    private static final long MAX_MICROS = 3_600_000_000L;

    final LongAdder sent = new LongAdder();
    final LongAdder ok = new LongAdder();
    final LongAdder dropped = new LongAdder();
    final LongAdder items = new LongAdder();
    final LongAdder cleanItems = new LongAdder();
    final LongAdder cleanFlagged = new LongAdder();
    final LongAdder triggeredItems = new LongAdder();
    final LongAdder triggeredFlagged = new LongAdder();
    final LongAdder cleanBlocked = new LongAdder();
    final LongAdder triggeredBlocked = new LongAdder();
    /** Why the run stopped before its end (a refusal every further request would get too), or null. */
    private final AtomicReference<String> stoppedBecause = new AtomicReference<>();
    final ConcurrentHashMap<String, LongAdder> errors = new ConcurrentHashMap<>();
    final ConcurrentHistogram latencyMicros = new ConcurrentHistogram(MAX_MICROS, 3);

    void success(Workload.Entry entry, Prediction prediction, long micros) {
        latencyMicros.recordValue(Math.min(Math.max(micros, 0), MAX_MICROS));
        items.add(prediction.items().size());
        for (ItemResult item : prediction.items()) {
            boolean triggered = entry.isTriggered(item.index());
            (triggered ? triggeredItems : cleanItems).increment();
            if (item.flagged()) {
                (triggered ? triggeredFlagged : cleanFlagged).increment();
            }
        }
        ok.increment();
    }

    /**
     * A request the guard refused in block mode (FAILED_PRECONDITION): its items were not answered, but they count
     * as items, and the ones the refusal names ({@code flagged}, request indices) count as blocked. A refusal that
     * names none (a server that does not say) counts every item of the request.
     */
    void blocked(Workload.Entry entry, List<Integer> flagged) {
        for (int i = 0; i < entry.batch().size(); i++) {
            boolean triggered = entry.isTriggered(i);
            (triggered ? triggeredItems : cleanItems).increment();
            if (flagged.isEmpty() || flagged.contains(i)) {
                (triggered ? triggeredBlocked : cleanBlocked).increment();
            }
        }
    }

    void stop(String reason) {
        stoppedBecause.compareAndSet(null, reason);
    }

    boolean stopped() {
        return stoppedBecause.get() != null;
    }

    String stoppedBecause() {
        return stoppedBecause.get();
    }

    /** The first message seen for each code: the report shows what went wrong, not only how often. */
    final ConcurrentHashMap<String, String> firstMessages = new ConcurrentHashMap<>();

    void failure(String code, String message) {
        errors.computeIfAbsent(code, c -> new LongAdder()).increment();
        firstMessages.putIfAbsent(code, message == null ? "" : message);
    }

    long errorCount() {
        return errors.values().stream().mapToLong(LongAdder::sum).sum();
    }

    Map<String, String> errorExamples() {
        return new TreeMap<>(firstMessages);
    }

    Map<String, Long> errorsByCode() {
        Map<String, Long> result = new TreeMap<>();
        errors.forEach((code, count) -> result.put(code, count.sum()));
        return result;
    }
}
