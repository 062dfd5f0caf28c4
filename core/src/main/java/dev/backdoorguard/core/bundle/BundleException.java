package dev.backdoorguard.core.bundle;

import java.io.IOException;
import java.util.regex.Pattern;

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
     * Where Jackson quotes a location inside its own message (e.g. an unclosed object's "start marker at
     * [Source: REDACTED (...); line: 1, column: 1]"): the source part says nothing to a user.
     */
    private static final Pattern QUOTED_LOCATION =
            Pattern.compile("\\[Source: [^\\]]*?; line: (\\d+), column: (\\d+)\\]");
    private static final Pattern QUOTED_SOURCE = Pattern.compile(" ?(at )?\\[Source: [^\\]]*\\]");

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
        return new BundleException(what + ": " + withoutSource(problem), e);
    }

    private static String withoutSource(String problem) {
        String located = QUOTED_LOCATION.matcher(String.valueOf(problem)).replaceAll("line $1, column $2");
        return QUOTED_SOURCE.matcher(located).replaceAll("");
    }
}
