package dev.backdoorguard.offline.purify;

import dev.backdoorguard.core.model.Classifier;

/**
 * A backdoor-purification algorithm: edits {@code model}'s weights in place and reports what it did.
 * CLP and DHBE are data-free ({@link PurificationData#none()}); FST and SEAM use the defender's clean data.
 */
public interface Purifier {
    /** The method's name as the command line spells it (clp, fst, seam, dhbe). */
    String name();

    PurificationReport purify(Classifier model, PurificationData data);
}
