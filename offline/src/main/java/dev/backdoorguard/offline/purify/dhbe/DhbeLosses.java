package dev.backdoorguard.offline.purify.dhbe;

/**
 * The losses of one outer iteration: the distillation term ℓ1(S(x), T(x)) and the full student loss
 * of its last student step, the generator's loss (−ℓ1 + TV) and the patch generator's loss (−ℓ1).
 */
public record DhbeLosses(double distillation, double student, double generator, double patch) {}
