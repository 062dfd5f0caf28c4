package dev.backdoorguard.core.arch;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Receives the named intermediate activations of a forward pass (the architecture's feature taps). */
@FunctionalInterface
public interface TapRecorder {
    /** Ignores every tap: the plain forward pass. */
    TapRecorder NONE = (name, x) -> {};

    /**
     * Receives tap {@code tap}'s activation. The forward pass never writes an offered activation again
     * (no in-place operation follows it), so a recorder may keep it, or a view of its memory, until the
     * pass's scope closes.
     */
    void offer(String tap, NDArray activation);

    /**
     * Receives the input of BatchNorm layer {@code layer} (its PyTorch name, e.g. {@code features.1})
     * just before it is normalised. Only recorders that need batch statistics of the layers' inputs
     * (DHBE's {@code --bn-prior} deviation) override it; feature taps ignore it.
     */
    default void offerBatchNormInput(String layer, NDArray input) {}

    /** Keeps the requested taps, named, in the order the network produced them. */
    final class Recording implements TapRecorder {
        private final java.util.Set<String> wanted;
        private final Map<String, NDArray> recorded = new LinkedHashMap<>();

        Recording(Collection<String> wanted) {
            this.wanted = java.util.Set.copyOf(wanted);
        }

        @Override
        public void offer(String tap, NDArray activation) {
            if (wanted.contains(tap)) {
                activation.setName(tap);
                recorded.put(tap, activation);
            }
        }

        List<NDArray> inOrder() {
            List<String> missing = new ArrayList<>(wanted);
            missing.removeAll(recorded.keySet());
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("unknown feature taps: " + missing);
            }
            return new ArrayList<>(recorded.values());
        }
    }
}
