package dev.backdoorguard.core.guard;

import java.util.List;

/**
 * The calibration summary of a bundle's critical-layer detector ({@code detector.json}), as plain
 * values for the server's DetectorInfo and the offline reports.
 *
 * @param method        always {@code critical-layer} for now
 * @param weightMode    {@code unweighted} (default), {@code per-class} or {@code code-faithful}
 * @param score         {@code cosine-sum} (default) or {@code mahalanobis}
 * @param thresholdRule {@code gaussian} (mean − τ·σ) or {@code quantile} (empirical, for a target FPR)
 * @param tau           τ of the gaussian rule (NaN under the quantile rule)
 * @param targetFpr     the target false-positive rate of the quantile rule (NaN under the gaussian rule)
 * @param taps          the architecture's ordered tap names the layer indices refer to
 * @param classes       one entry per class, in class order
 * @param weightsSha256 the SHA-256 of the {@code weights.safetensors} it was calibrated for
 */
public record DetectorSummary(
        String method,
        String weightMode,
        String score,
        String thresholdRule,
        double tau,
        double targetFpr,
        List<String> taps,
        List<ClassCalibration> classes,
        String weightsSha256) {

    public DetectorSummary {
        taps = List.copyOf(taps);
        classes = List.copyOf(classes);
    }

    /** One class's calibration: its critical layer, candidate set with weights, and statistics. */
    public record ClassCalibration(
            int classIndex,
            int criticalLayer,
            List<Integer> candidateLayers,
            List<Double> weights,
            double mean,
            double std,
            double threshold,
            int localisationSamples,
            int referenceSamples) {

        public ClassCalibration {
            candidateLayers = List.copyOf(candidateLayers);
            weights = List.copyOf(weights);
        }
    }
}
