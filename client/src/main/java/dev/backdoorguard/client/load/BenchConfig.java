package dev.backdoorguard.client.load;

import dev.backdoorguard.client.GuardMode;
import java.time.Duration;
import java.util.Objects;

/**
 * One load-generator run. Closed loop when {@code rate} is 0: {@code concurrency} callers each send the next request
 * when the previous answer arrives. Open loop when {@code rate} > 0: requests start on a fixed schedule of {@code rate}
 * per second whatever the answers do, with at most {@code maxInFlight} outstanding; a request that cannot start on
 * time is counted as dropped, never queued. The run ends after {@code duration} or {@code requests}, whichever comes
 * first (either may be absent, not both).
 *
 * @param model served model name
 * @param mode guard mode sent with every request, or null for the server default
 * @param concurrency closed-loop callers (ignored in open loop)
 * @param rate open-loop requests per second, or 0 for closed loop
 * @param maxInFlight open-loop bound on outstanding requests
 * @param duration measured run length, or null
 * @param requests measured request count, or 0 for no limit
 * @param warmup unmeasured run before the measured one (zero: none)
 */
public record BenchConfig(
        String model,
        GuardMode mode,
        int concurrency,
        double rate,
        int maxInFlight,
        Duration duration,
        long requests,
        Duration warmup) {

    /** The highest open-loop rate accepted, in requests per second. */
    public static final double MAX_RATE = 100_000;

    public BenchConfig {
        Objects.requireNonNull(model, "model");
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be >= 1, got " + concurrency);
        }
        if (!(rate >= 0) || rate > MAX_RATE) {
            // Beyond ~1e5/s one generator thread cannot even schedule the sends: the run would spend its time
            // counting drops (1e9/s took 40 s for a 1-s run).
            throw new IllegalArgumentException("--rate must be in [0, " + (long) MAX_RATE + "] requests/s, got " + rate);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("max in-flight must be >= 1, got " + maxInFlight);
        }
        if (duration != null && (duration.isNegative() || duration.isZero())) {
            throw new IllegalArgumentException("duration must be positive, got " + duration.toMillis() + "ms");
        }
        if (requests < 0) {
            throw new IllegalArgumentException("requests must be >= 0, got " + requests);
        }
        if (duration == null && requests == 0) {
            throw new IllegalArgumentException("bound the run: give a duration, a request count, or both");
        }
        warmup = warmup == null ? Duration.ZERO : warmup;
        if (warmup.isNegative()) {
            throw new IllegalArgumentException("warm-up must be >= 0, got " + warmup.toMillis() + "ms");
        }
    }

    /** Whether requests follow a fixed schedule rather than answers. */
    public boolean openLoop() {
        return rate > 0;
    }
}
