package dev.backdoorguard.offline.purify.dhbe;

/**
 * One evaluation of the student during the run: ACC, ASR and RA as DESIGN.md §5 defines them, and
 * DHBE's own conditional ASR (§A.7: only non-target images the model classifies correctly when clean
 * count), reported separately for comparison with the paper.
 */
public record DhbeMetrics(double acc, double asr, double ra, double asrConditional) {}
