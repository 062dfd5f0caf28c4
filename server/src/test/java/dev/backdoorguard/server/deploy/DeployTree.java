package dev.backdoorguard.server.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The repository's {@code deploy/} folder as the tests see it: found by walking up from the working directory
 * (Surefire runs in {@code server/}, an IDE may run from the root), with YAML and JSON readers.
 */
public final class DeployTree {
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final ObjectMapper JSON = new ObjectMapper();

    private DeployTree() {}

    /** The repository root: the nearest ancestor of the working directory that holds {@code deploy/metrics.txt}. */
    public static Path root() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("deploy/metrics.txt"))) {
                return d;
            }
        }
        throw new IllegalStateException("no deploy/metrics.txt in " + dir + " or any parent directory");
    }

    public static Path deploy() {
        return root().resolve("deploy");
    }

    /** Every non-empty YAML document of a (possibly multi-document) file. */
    static List<JsonNode> yamlDocuments(Path file) {
        try (var parser = YAML.getFactory().createParser(file.toFile())) {
            List<JsonNode> docs = new ArrayList<>();
            for (JsonNode doc : YAML.readValues(parser, JsonNode.class).readAll()) {
                if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
                    docs.add(doc);
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse YAML " + file, e);
        }
    }

    /** The single YAML document of a file. */
    static JsonNode yaml(Path file) {
        List<JsonNode> docs = yamlDocuments(file);
        if (docs.size() != 1) {
            throw new IllegalStateException(file + ": expected one YAML document, found " + docs.size());
        }
        return docs.get(0);
    }

    static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse JSON " + file, e);
        }
    }

    /** deploy/metrics.txt: the metric names the rules and the dashboard use, one per line. */
    public static Set<String> metricsList() {
        try (Stream<String> lines = Files.lines(deploy().resolve("metrics.txt"))) {
            return lines.map(String::strip).filter(l -> !l.isEmpty()).collect(Collectors.toCollection(LinkedHashSet::new));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every regular file under {@code dir} whose name ends with one of {@code suffixes}, sorted. */
    static List<Path> files(Path dir, String... suffixes) {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> Stream.of(suffixes).anyMatch(s -> p.getFileName().toString().endsWith(s)))
                    .sorted()
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(JsonNode node, String field) {
        JsonNode value = Objects.requireNonNull(node, "node").path(field);
        return value.isMissingNode() || value.isNull() ? null : value.asText();
    }
}
