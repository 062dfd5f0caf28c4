package dev.backdoorguard.offline.purify.fst;

/**
 * FST and the reference script's baselines, one code path with four switches (specs/clp-fst.md §2.3).
 * All modes get the head-norm projection after every step, as the reference does.
 */
public enum FstMode {
    /** Vanilla fine-tuning of everything. */
    FT("ft", false, true, true, false),
    /** Linear probing: the head only. */
    LP("lp", false, false, true, false),
    /** Re-initialise the head, train everything. */
    FT_INIT("ft-init", true, true, true, false),
    /** Re-initialise the head, freeze it, train the backbone. */
    FE_TUNING("fe-tuning", true, true, false, false),
    /** Feature Shift Tuning: re-initialise the head, train everything with the α·⟨W, W0⟩ penalty. */
    FST("fst", true, true, true, true);

    final String cliName;
    final boolean reinitHead;
    final boolean trainBackbone;
    final boolean trainHead;
    final boolean penalty;

    FstMode(String cliName, boolean reinitHead, boolean trainBackbone, boolean trainHead, boolean penalty) {
        this.cliName = cliName;
        this.reinitHead = reinitHead;
        this.trainBackbone = trainBackbone;
        this.trainHead = trainHead;
        this.penalty = penalty;
    }

    public String cliName() {
        return cliName;
    }

    public static FstMode parse(String name) {
        for (FstMode m : values()) {
            if (m.cliName.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown --mode '" + name + "' (known: ft, lp, ft-init, fe-tuning, fst)");
    }
}
