package dev.backdoorguard.core;

import dev.backdoorguard.core.bundle.ModelSpec;
import java.util.List;

/** Tiny specs shared by tests: Fashion-MNIST shaped, small widths so tests stay fast. */
public final class TestModels {
    public static final List<String> FASHION_LABELS = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private TestModels() {}

    public static ModelSpec fashion(String architecture, Integer width) {
        return new ModelSpec(architecture, new int[] {1, 28, 28}, 10, new float[] {0.2860f}, new float[] {0.3530f},
                FASHION_LABELS, width, null);
    }
}
