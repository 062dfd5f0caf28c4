package dev.backdoorguard.offline.purify.clp;

/**
 * One declared conv→BN pair after scoring: channel count, the layer's UCLC mean and unbiased std,
 * the threshold, the largest z-score (bounded by (n-1)/√n: Samuelson), and the pruned channels.
 */
public record ClpLayer(
        String conv, String bn, int channels, double mean, double std, double threshold, double maxZ, int[] pruned,
        boolean nonFinite) {}
