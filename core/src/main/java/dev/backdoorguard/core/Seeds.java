package dev.backdoorguard.core;

import java.nio.charset.StandardCharsets;

/**
 * Derives an independent seed for each purpose from one run seed. Every seeded component (the
 * defender's split, the poison draw, the training order) must use its own stream: with one shared
 * seed, two shuffles of the same size produce the same permutation, and the training order would
 * then start with exactly the poisoned images, a whole run of target-labelled batches.
 */
public final class Seeds {
    private Seeds() {}

    /** A well-mixed 64-bit seed for {@code purpose}, stable across runs and JVMs. */
    public static long derive(long seed, String purpose) {
        long h = seed ^ 0x9E3779B97F4A7C15L;
        for (byte b : purpose.getBytes(StandardCharsets.UTF_8)) {
            h = mix(h ^ b);
        }
        return mix(h);
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
