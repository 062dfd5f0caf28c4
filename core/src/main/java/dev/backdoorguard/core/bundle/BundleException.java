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

    /**
     * {@code what} (e.g. "path: not valid JSON") followed by the parser's problem and where it is, without
     * Jackson's "[Source: REDACTED ...]" noise.
     */
    public static BundleException invalidJson(String what, IOException e) {
        String problem = e.getMessage();
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException json) {
            problem = json.getOriginalMessage();
            if (json.getLocation() != null && json.getLocation().getLineNr() > 0) {
                problem += " (line " + json.getLocation().getLineNr() + ", column " + json.getLocation().getColumnNr()
                        + ")";
            }
        }
        return new BundleException(what + ": " + problem, e);
    }
}
