package dev.backdoorguard.client.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Class names for printing. The inference protocol's ModelMetadata has no field for them, so the user names them:
 * {@code fashion-mnist} (built in), a comma-separated list, or {@code @file} with one name per line.
 */
final class ClassNames {
    static final List<String> FASHION_MNIST = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private ClassNames() {}

    static List<String> parse(String spec) throws IOException {
        if (spec == null || spec.isBlank()) {
            return List.of();
        }
        if (spec.equalsIgnoreCase("fashion-mnist")) {
            return FASHION_MNIST;
        }
        if (spec.startsWith("@")) {
            return Files.readAllLines(Path.of(spec.substring(1))).stream()
                    .map(String::strip).filter(line -> !line.isEmpty()).toList();
        }
        return Arrays.stream(spec.split(",")).map(String::strip).toList();
    }
}
