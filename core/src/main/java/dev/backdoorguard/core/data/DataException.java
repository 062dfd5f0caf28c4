package dev.backdoorguard.core.data;

import java.io.IOException;

/** A data set is missing, empty or malformed. */
public final class DataException extends IOException {
    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(message);
    }
}
