package dev.backdoorguard.client.load;

import dev.backdoorguard.client.ItemResult;
import dev.backdoorguard.client.Prediction;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
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
