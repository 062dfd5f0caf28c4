/**
 * The critical-layer input filter (layer-wise feature analysis, PAKDD 2023; spec
 * {@code critical-layer.md}): calibration from benign data ({@link
 * dev.backdoorguard.core.detect.CriticalLayerCalibration}), the bundle artifact ({@link
 * dev.backdoorguard.core.detect.DetectorArtifact}) and batched scoring in the forward pass ({@link
 * dev.backdoorguard.core.detect.CriticalLayerDetector}).
 */
package dev.backdoorguard.core.detect;
