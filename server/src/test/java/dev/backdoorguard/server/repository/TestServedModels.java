package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.guard.Guard;

/** Test access to {@link ServedModel}'s package-private constructor, for tests outside this package. */
public final class TestServedModels {
    private TestServedModels() {}

    public static ServedModel of(String name, String version, Guard guard) {
        return new ServedModel(name, version, guard);
    }
}
