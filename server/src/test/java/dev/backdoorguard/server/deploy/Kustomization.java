package dev.backdoorguard.server.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One kustomization directory, resolved the way {@code kustomize build} resolves its {@code resources}: files are
 * read, directories are kustomizations themselves. No patches are applied; the tests check them separately.
 */
record Kustomization(Path dir, JsonNode spec, List<JsonNode> resources) {
    static Kustomization load(Path dir) {
        Path file = dir.resolve("kustomization.yaml");
        if (!Files.isRegularFile(file)) {
            throw new AssertionError(dir + " is not a kustomization (no kustomization.yaml)");
        }
        JsonNode spec = DeployTree.yaml(file);
        List<JsonNode> resources = new ArrayList<>();
        for (JsonNode entry : spec.path("resources")) {
            Path target = dir.resolve(entry.asText()).normalize();
            if (Files.isDirectory(target)) {
                resources.addAll(load(target).resources());
            } else if (Files.isRegularFile(target)) {
                resources.addAll(DeployTree.yamlDocuments(target));
            } else {
                throw new AssertionError(file + ": resource " + entry.asText() + " does not exist");
            }
        }
        return new Kustomization(dir, spec, List.copyOf(resources));
    }

    /** The resource of this kind and name; fails when there is none or more than one. */
    JsonNode find(String kind, String name) {
        List<JsonNode> found = all(kind).stream()
                .filter(r -> name.equals(r.path("metadata").path("name").asText()))
                .toList();
        if (found.size() != 1) {
            throw new AssertionError(dir + ": expected one " + kind + " named " + name + ", found " + found.size());
        }
        return found.get(0);
    }

    List<JsonNode> all(String kind) {
        return resources.stream().filter(r -> kind.equals(r.path("kind").asText())).toList();
    }

    /** Names of the ConfigMaps this kustomization (or a base it includes) generates. */
    List<String> generatedConfigMaps() {
        List<String> names = new ArrayList<>();
        for (JsonNode entry : spec.path("resources")) {
            Path target = dir.resolve(entry.asText()).normalize();
            if (Files.isDirectory(target)) {
                names.addAll(load(target).generatedConfigMaps());
            }
        }
        spec.path("configMapGenerator").forEach(g -> names.add(g.path("name").asText()));
        return names;
    }
}
