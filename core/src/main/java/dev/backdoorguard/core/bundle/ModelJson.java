package dev.backdoorguard.core.bundle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads and writes {@code model.json}; unknown fields are ignored, bad values are named. */
public final class ModelJson {
    static final ObjectMapper JSON = JsonOutput.INDENTED;

    private ModelJson() {}

    public static ModelSpec read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new BundleException(file + ": missing (a bundle needs model.json)");
        } catch (IOException e) {
            throw BundleException.invalidJson(file + ": not valid JSON", e);
        }
        if (root == null || !root.isObject()) {
            throw new BundleException(file + ": must be a JSON object");
        }
        int format = root.path("format").asInt(-1);
        if (format != ModelSpec.FORMAT) {
            throw new BundleException(file + ": unsupported 'format' " + root.path("format") + " (expected 1)");
        }
        try {
            JsonNode normalize = root.path("normalize");
            return new ModelSpec(
                    root.path("architecture").asText(null),
                    ints(root.path("input_shape"), "input_shape"),
                    integer(root, "num_classes"),
                    floats(normalize.path("mean"), "normalize.mean"),
                    floats(normalize.path("std"), "normalize.std"),
                    strings(root.path("labels")),
                    root.hasNonNull("width") ? Integer.valueOf(integer(root, "width")) : null,
                    root.path("provenance").isObject() ? (ObjectNode) root.get("provenance") : null);
        } catch (IllegalArgumentException e) {
            throw new BundleException(file + ": " + e.getMessage().replaceFirst("^model.json: ", ""));
        }
    }

    public static void write(ModelSpec spec, Path file) throws IOException {
        JSON.writeValue(file.toFile(), toJson(spec));
    }

    static ObjectNode toJson(ModelSpec spec) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", ModelSpec.FORMAT);
        root.put("architecture", spec.architecture());
        ArrayNode shape = root.putArray("input_shape");
        for (int d : spec.inputShape()) {
            shape.add(d);
        }
        root.put("num_classes", spec.numClasses());
        ObjectNode normalize = root.putObject("normalize");
        ArrayNode mean = normalize.putArray("mean");
        ArrayNode std = normalize.putArray("std");
        for (int c = 0; c < spec.channels(); c++) {
            mean.add(spec.mean()[c]);
            std.add(spec.std()[c]);
        }
        if (!spec.labels().isEmpty()) {
            ArrayNode labels = root.putArray("labels");
            spec.labels().forEach(labels::add);
        }
        if (spec.width() != null) {
            root.put("width", spec.width());
        }
        root.set("provenance", spec.provenance());
        return root;
    }

    /** A required integer field: "ten" or 10.7 is refused by name, not read as -1 or 10. */
    private static int integer(JsonNode root, String field) {
        JsonNode node = root.path(field);
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new IllegalArgumentException("'" + field + "' must be an integer, got " + node);
        }
        return node.asInt();
    }

    private static int[] ints(JsonNode node, String field) {
        if (!node.isArray()) {
            throw new IllegalArgumentException("'" + field + "' must be an array of integers, got " + node);
        }
        int[] out = new int[node.size()];
        for (int i = 0; i < out.length; i++) {
            if (!node.get(i).isIntegralNumber()) {
                throw new IllegalArgumentException("'" + field + "' must be an array of integers, got " + node);
            }
            out[i] = node.get(i).asInt();
        }
        return out;
    }

    private static float[] floats(JsonNode node, String field) {
        if (!node.isArray()) {
            throw new IllegalArgumentException("'" + field + "' must be an array of numbers, got " + node);
        }
        float[] out = new float[node.size()];
        for (int i = 0; i < out.length; i++) {
            if (!node.get(i).isNumber()) {
                throw new IllegalArgumentException("'" + field + "' must be an array of numbers, got " + node);
            }
            out[i] = (float) node.get(i).asDouble();
        }
        return out;
    }

    private static List<String> strings(JsonNode node) {
        List<String> out = new ArrayList<>();
        node.forEach(n -> out.add(n.asText()));
        return out;
    }
}
