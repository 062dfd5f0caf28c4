package dev.backdoorguard.core.arch;

import dev.backdoorguard.core.bundle.ModelSpec;
import java.util.List;
import java.util.function.Function;

/**
 * A registered architecture with its explicit declarations (DESIGN.md §4): feature taps in forward
 * order (the last is always {@code logits}), conv→BN pairs for CLP, and the classification head for
 * FST, whose input dimension is {@code headInputs(spec)}.
 */
public record Architecture(
        String name,
        List<String> taps,
        List<ConvBnPair> convBnPairs,
        String head,
        Function<ModelSpec, Integer> headInputs,
        Function<ModelSpec, TorchNetwork> factory) {

    public Architecture {
        taps = List.copyOf(taps);
        convBnPairs = List.copyOf(convBnPairs);
        if (taps.isEmpty() || !taps.get(taps.size() - 1).equals("logits")) {
            throw new IllegalArgumentException(name + ": the last tap must be 'logits'");
        }
    }

    public TorchNetwork create(ModelSpec spec) {
        return factory.apply(spec);
    }
}
