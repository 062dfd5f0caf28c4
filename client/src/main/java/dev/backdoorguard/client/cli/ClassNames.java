package dev.backdoorguard.client.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

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
            Path file = Path.of(spec.substring(1));
            if (!Files.isRegularFile(file)) {
                throw new NoSuchFileException("--labels " + spec + ": no such file");
            }
            return Files.readAllLines(file).stream().map(String::strip).filter(line -> !line.isEmpty()).toList();
        }
        if (!spec.contains(",")) {
            // One name for a whole model is never meant: a mistyped preset ("fashion_mnist", "cifar10").
            throw new IllegalArgumentException("--labels '" + spec + "': not a known preset (fashion-mnist), a"
                    + " comma-separated list or @file");
        }
        return Arrays.stream(spec.split(",")).map(String::strip).toList();
    }

    /** A list that does not name each of the model's classes exactly once would print wrong names. */
    static void checkCount(List<String> names, Optional<Integer> numClasses) {
        numClasses.filter(k -> k != names.size()).ifPresent(k -> {
            throw new IllegalArgumentException("--labels gives " + names.size() + " class names; the model has " + k
                    + " classes");
        });
    }
}
