package dev.backdoorguard.server.repository;

/** What the repository tells operations (health, metrics, logs) about loads and state changes. */
public interface RepositoryListener {

    /** A load attempt ended: {@code failure} is null on success. */
    void loadFinished(String model, String version, long nanos, Throwable failure);

    /** A version went live ({@code ready}) or was retired (not ready). */
    void versionState(String model, String version, boolean ready);

    /**
     * A model was unloaded on purpose (RepositoryModelUnload, or its directory left a watched repository): it is no
     * longer expected to serve, so its readiness series should go rather than read 0 forever.
     */
    void unloaded(String model);

    /** The set or state of served models changed (recompute health). */
    void changed();

    /** A listener that ignores everything (tests of the repository alone). */
    static RepositoryListener none() {
        return new RepositoryListener() {
            @Override
            public void loadFinished(String model, String version, long nanos, Throwable failure) {}

            @Override
            public void versionState(String model, String version, boolean ready) {}

            @Override
            public void unloaded(String model) {}

            @Override
            public void changed() {}
        };
    }
}
