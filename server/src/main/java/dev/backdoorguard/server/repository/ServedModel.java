package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.Guard;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One loaded version of a model: its {@link Guard} plus a reference count, so a version replaced or
 * unloaded while requests are in flight is closed only after the last of them has finished.
 */
public final class ServedModel {
    private final String name;
    private final String version;
    private final Guard guard;
    private final ModelStats stats = new ModelStats();
    // 1 for the repository's own reference, plus one per in-flight request.
    private final AtomicInteger references = new AtomicInteger(1);

    ServedModel(String name, String version, Guard guard) {
        this.name = name;
        this.version = version;
        this.guard = guard;
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    public Guard guard() {
        return guard;
    }

    public ModelStats stats() {
        return stats;
    }

    /** Takes a reference for one request; false when the version is already retired. */
    boolean tryAcquire() {
        while (true) {
            int n = references.get();
            if (n == 0) {
                return false;
            }
            if (references.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Gives back a reference taken by {@link ModelRepository#acquire}; the last one closes the guard. */
    public void release() {
        if (references.decrementAndGet() == 0) {
            guard.close();
        }
    }

    /** Drops the repository's own reference: the guard closes when in-flight requests finish. */
    void retire() {
        release();
    }
}
