package dev.backdoorguard.core.bundle;

import java.io.IOException;

/** A model bundle (or a file in it) is missing, corrupt or does not match its declared contract. */
public final class BundleException extends IOException {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(message);
    }

    public BundleException(String message, Throwable cause) {
        super(message, cause);
    }
}
