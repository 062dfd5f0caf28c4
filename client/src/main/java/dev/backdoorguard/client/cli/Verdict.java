package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ItemResult;

/** The guard's verdict on one item, as the predict and demo tables show it. */
enum Verdict {
    /** The detector flagged the item. */
    FLAGGED("FLAGGED"),
    /** The detector scored the item and passed it. */
    OK("ok"),
    /** The detector did not run: the model is served without one (detector "none"), or --mode off. */
    UNGUARDED("unguarded");

    private final String text;

    Verdict(String text) {
        this.text = text;
    }

    /**
     * Whether the guard ran shows in the score: guard serve sends NaN scores and detector "none" when it did not,
     * and a server without the guard sends no score at all. Without a score, "ok" would claim a check that never
     * happened (and --mode block would seem to pass everything on its merits).
     */
    static Verdict of(ItemResult item) {
        if (item.flagged()) {
            return FLAGGED;
        }
        return item.score().isPresent() ? OK : UNGUARDED;
    }

    @Override
    public String toString() {
        return text;
    }
}
