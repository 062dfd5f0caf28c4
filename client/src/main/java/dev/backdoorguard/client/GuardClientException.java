package dev.backdoorguard.client;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A call failed: carries the gRPC status code and the server's description. Subclasses name the outcomes callers
 * usually branch on; every other code arrives as this type.
 */
public class GuardClientException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * How guard serve names the items of a request in its messages: "contents item 1: undecodable image", "flagged
     * items [3, 5] of 16". Group 1 holds the indices.
     */
    public static final Pattern NAMED_ITEMS = Pattern.compile("items? \\[?(\\d+(?:, *\\d+)*)]?");

    private final Status.Code code;

    public GuardClientException(Status.Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The gRPC status code of the failed call. */
    public Status.Code code() {
        return code;
    }

    /**
     * The request items (indices) the message names, in order; empty when it names none (a refusal of the whole
     * request, or a server that does not name items).
     */
    public List<Integer> namedItems() {
        List<Integer> items = new ArrayList<>();
        if (getMessage() != null) {
            Matcher m = NAMED_ITEMS.matcher(getMessage());
            while (m.find()) {
                items.addAll(indices(m));
            }
        }
        return items;
    }

    /** The indices of one {@link #NAMED_ITEMS} match ("3" or "3, 5"). */
    public static List<Integer> indices(Matcher match) {
        List<Integer> indices = new ArrayList<>();
        for (String index : match.group(1).split(", *")) {
            indices.add(Integer.parseInt(index.strip()));
        }
        return indices;
    }
}
