/**
 * The facade between the serving layer and the engine: {@link dev.backdoorguard.core.guard.Guard}
 * takes a {@link dev.backdoorguard.core.guard.PixelBatch} and answers a
 * {@link dev.backdoorguard.core.guard.BatchPrediction}; no engine array crosses it.
 */
package dev.backdoorguard.core.guard;
