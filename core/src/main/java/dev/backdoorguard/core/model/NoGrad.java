package dev.backdoorguard.core.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * An inference block: turns libtorch's grad mode off (no autograd graph is recorded, and the
 * inference-only kernels are chosen) and restores the previous mode on close. Grad mode is
 * thread-local in libtorch and on by default in a new thread, so every inference entry point opens
 * one; restoring matters when the caller is between two training steps.
 */
public final class NoGrad implements AutoCloseable {
    private final boolean previous;

    private NoGrad() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
    }

    public static NoGrad enter() {
        return new NoGrad();
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
