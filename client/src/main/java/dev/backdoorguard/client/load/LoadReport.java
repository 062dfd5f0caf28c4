package dev.backdoorguard.client.load;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a measured run did. Invariant once the run has finished: {@code sent == ok + sum(errors)}; {@code dropped}
 * counts open-loop requests that were never sent because they could not start on time.
 *
 * @param mode {@code closed} or {@code open}
 * @param concurrency closed-loop callers (open loop: the in-flight bound)
 * @param targetRate open-loop requests per second (0 in closed loop)
 * @param batch items per request
 * @param seconds measured wall time, from the first send to the last answer
 * @param sent requests sent
 * @param ok requests answered successfully
 * @param errors failed requests by gRPC status code
 * @param errorExamples the first message of each code in {@code errors}
 * @param dropped open-loop requests not sent on time
 * @param items items in successful answers
 * @param latencyMillis p50, p90, p99, p99.9 and max latency of successful requests in milliseconds (open loop: from
 *     the scheduled start, so a late send counts against the server, not hidden by it)
 * @param meanMillis mean latency in milliseconds
 * @param cleanItems items without the trigger in answered or block-mode-refused requests
 * @param cleanFlagged of those, flagged in an answer
 * @param triggeredItems items with the trigger in answered or block-mode-refused requests
 * @param triggeredFlagged of those, flagged in an answer
 * @param cleanBlocked clean items a block-mode refusal (FAILED_PRECONDITION) named as flagged (all of its request's
 *     items when it named none)
 * @param triggeredBlocked triggered items a block-mode refusal named as flagged
 * @param stoppedBecause the refusal that ended the run early (every further request would have had it), or null
 */
public record LoadReport(
        String mode,
        int concurrency,
        double targetRate,
        int batch,
        double seconds,
        long sent,
        long ok,
        Map<String, Long> errors,
        Map<String, String> errorExamples,
        long dropped,
        long items,
        Map<String, Double> latencyMillis,
        double meanMillis,
        long cleanItems,
        long cleanFlagged,
        long triggeredItems,
        long triggeredFlagged,
        long cleanBlocked,
        long triggeredBlocked,
        String stoppedBecause) {

    public LoadReport {
        errors = Collections.unmodifiableMap(new TreeMap<>(errors));
        errorExamples = Collections.unmodifiableMap(new TreeMap<>(errorExamples));
        latencyMillis = Collections.unmodifiableMap(new LinkedHashMap<>(latencyMillis)); // keeps p50..max order
    }

    /** Failed requests. */
    public long errorCount() {
        return errors.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * Failed requests other than the guard's own refusals in block mode (FAILED_PRECONDITION, which a
     * --mode block run expects for flagged inputs).
     */
    public long unexpectedErrorCount() {
        return errors.entrySet().stream().filter(e -> !e.getKey().equals("FAILED_PRECONDITION"))
                .mapToLong(Map.Entry::getValue).sum();
    }

    /** Successful requests per second. */
    public double requestsPerSecond() {
        return seconds > 0 ? ok / seconds : 0;
    }

    /** Answered items per second. */
    public double itemsPerSecond() {
        return seconds > 0 ? items / seconds : 0;
    }

    /** Clean items flagged in an answer or named by a block-mode refusal. */
    public long cleanFlaggedOrBlocked() {
        return cleanFlagged + cleanBlocked;
    }

    /** Triggered items flagged in an answer or named by a block-mode refusal. */
    public long triggeredFlaggedOrBlocked() {
        return triggeredFlagged + triggeredBlocked;
    }

    /** Share of clean items flagged or named by a refusal (the false-positive rate), NaN without clean items. */
    public double cleanFlagRate() {
        return cleanItems > 0 ? (double) cleanFlaggedOrBlocked() / cleanItems : Double.NaN;
    }

    /** Share of triggered items flagged or named by a refusal (the detection rate), NaN without triggered items. */
    public double triggeredFlagRate() {
        return triggeredItems > 0 ? (double) triggeredFlaggedOrBlocked() / triggeredItems : Double.NaN;
    }
}
