package dev.backdoorguard.core.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.FloatFormat;
import dev.backdoorguard.core.bundle.Bundles;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The detector's files in a bundle (spec §8): {@code detector.json} (rule, per-class layers, weights,
 * statistics, diagnostics, warnings and provenance) and {@code detector.safetensors} (the centroids,
 * {@code centroid.<c>.<tap>} of shape [d_l], F32 or, when calibrated so, F16). Loading verifies that the artifact belongs to the
 * bundle's weights and {@code model.json} by their SHA-256.
 *
 * @param calibration the calibration
 * @param provenance  free-form provenance; {@code weights_sha256} and {@code model_json_sha256} are required
 */
public record DetectorArtifact(DetectorCalibration calibration, ObjectNode provenance) {
    public static final String JSON_FILE = "detector.json";
    public static final String TENSORS_FILE = "detector.safetensors";
    /** The format of a cosine-sum artifact, the spec's. */
    public static final int FORMAT = 1;
    /**
     * The format of a {@link ScoreRule#MAHALANOBIS} artifact: a reader that knows only format 1 would
     * compute a cosine sum against thresholds on the −d² scale and never flag anything, so it must
     * refuse the file instead.
     */
    public static final int FORMAT_MAHALANOBIS = 2;
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public DetectorArtifact {
        for (String field : List.of("weights_sha256", "model_json_sha256")) {
            if (!provenance.path(field).isTextual()) {
                throw new IllegalArgumentException("detector provenance needs '" + field + "'");
            }
        }
    }

    /** Whether {@code bundle} carries a detector ({@code detector.json} present). */
    public static boolean isPresent(Path bundle) {
        return Files.exists(bundle.resolve(JSON_FILE));
    }

    /** Writes both files into {@code dir} (the caller makes the directory swap atomic). */
    public void write(Path dir) throws IOException {
        JSON.writeValue(dir.resolve(JSON_FILE).toFile(), toJson());
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (ClassStatistics s : calibration.classes()) {
            for (int j = 0; j < s.candidates().length; j++) {
                String key = key(s.classIndex(), calibration.taps().get(s.candidates()[j]));
                float[] centroid = s.centroids()[j];
                tensors.put(key, HostTensor.ofFloats(key, new long[] {centroid.length}, centroid));
            }
        }
        SafeTensors.write(dir.resolve(TENSORS_FILE), tensors, Map.of("format", "backdoor-guard-detector"),
                calibration.centroidFormat());
    }

    static String key(int classIndex, String tap) {
        return "centroid." + classIndex + "." + tap;
    }

    /** detector.json as a tree. */
    public ObjectNode toJson() {
        DetectorCalibration cal = calibration;
        ObjectNode root = JSON.createObjectNode();
        root.put("format", cal.scoreRule() == ScoreRule.MAHALANOBIS ? FORMAT_MAHALANOBIS : FORMAT);
        root.put("method", DetectorCalibration.METHOD);
        ArrayNode taps = root.putArray("taps");
        cal.taps().forEach(taps::add);
        ArrayNode dims = root.putArray("dims");
        for (int d : cal.dims()) {
            dims.add(d);
        }
        root.put("weight_mode", cal.weightMode().id());
        root.put("score", cal.scoreRule().id());
        root.put("centroid_dtype", cal.centroidFormat().name());
        root.put("threshold_rule", cal.rule().kind().id());
        if (cal.rule().kind() == ThresholdRule.Kind.GAUSSIAN) {
            root.put("tau", cal.rule().tau());
        } else {
            root.put("target_fpr", cal.rule().targetFpr());
        }
        ArrayNode classes = root.putArray("classes");
        for (ClassStatistics s : cal.classes()) {
            ObjectNode c = classes.addObject();
            c.put("class", s.classIndex());
            c.put("lstar", s.criticalLayer());
            c.put("lstar_tap", cal.taps().get(s.criticalLayer()));
            ArrayNode indices = c.putArray("S");
            ArrayNode names = c.putArray("S_taps");
            for (int l : s.candidates()) {
                indices.add(l);
                names.add(cal.taps().get(l));
            }
            ArrayNode weights = c.putArray("weights");
            for (double w : s.weights()) {
                weights.add(w);
            }
            c.put("mean", s.mean());
            c.put("std", s.std());
            c.put("threshold", s.threshold());
            c.put("n_loc", s.localisationSamples());
            c.put("n_ref", s.referenceSamples());
            ArrayNode a = c.putArray("a");
            for (double v : s.similarity()) {
                a.add(v);
            }
            ArrayNode delta = c.putArray("delta");
            for (double v : s.delta()) {
                delta.add(v);
            }
            if (s.mahalanobis() != null) {
                ArrayNode mean = c.putArray("cosine_mean");
                for (double v : s.mahalanobis().mean()) {
                    mean.add(v);
                }
                ArrayNode precision = c.putArray("precision");
                for (double v : s.mahalanobis().precision()) {
                    precision.add(v);
                }
            }
        }
        ArrayNode warnings = root.putArray("warnings");
        cal.warnings().forEach(warnings::add);
        root.set("provenance", provenance);
        return root;
    }

    /** Reads both files of {@code bundle} strictly, without checking them against the weights. */
    public static DetectorArtifact read(Path bundle) throws IOException {
        Path file = bundle.resolve(JSON_FILE);
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw BundleException.invalidJson(file + ": not valid JSON", e);
        }
        try {
            return parse(root, SafeTensors.read(bundle.resolve(TENSORS_FILE)));
        } catch (IllegalArgumentException e) {
            throw new BundleException(file + ": " + e.getMessage());
        }
    }

    private static DetectorArtifact parse(JsonNode root, Map<String, HostTensor> tensors) {
        int format = root.path("format").asInt(-1);
        if (format != FORMAT && format != FORMAT_MAHALANOBIS) {
            throw new IllegalArgumentException("unsupported 'format' " + root.path("format") + " (expected 1 or 2)");
        }
        if (!DetectorCalibration.METHOD.equals(root.path("method").asText())) {
            throw new IllegalArgumentException("unsupported 'method' " + root.path("method") + " (expected "
                    + DetectorCalibration.METHOD + ")");
        }
        List<String> taps = new ArrayList<>();
        required(root, "taps").forEach(t -> taps.add(t.asText()));
        int[] dims = ints(required(root, "dims"));
        WeightMode mode = WeightMode.parse(required(root, "weight_mode").asText());
        // Absent in artifacts written before the Mahalanobis rule existed: those are cosine sums.
        ScoreRule scoreRule = ScoreRule.parse(root.path("score").asText(ScoreRule.COSINE_SUM.id()));
        if ((format == FORMAT_MAHALANOBIS) != (scoreRule == ScoreRule.MAHALANOBIS)) {
            throw new IllegalArgumentException("'format' " + format + " does not go with 'score' " + scoreRule.id()
                    + " (format 2 is the mahalanobis score's, format 1 the cosine sum's)");
        }
        // Absent in artifacts written before F16 storage existed: those are F32.
        FloatFormat centroidFormat = FloatFormat.parse(root.path("centroid_dtype").asText("F32"));
        ThresholdRule.Kind kind = ThresholdRule.Kind.parse(required(root, "threshold_rule").asText());
        ThresholdRule rule = kind == ThresholdRule.Kind.GAUSSIAN
                ? ThresholdRule.gaussian(required(root, "tau").asDouble())
                : ThresholdRule.quantile(required(root, "target_fpr").asDouble());
        List<ClassStatistics> classes = new ArrayList<>();
        for (JsonNode c : required(root, "classes")) {
            int index = required(c, "class").asInt();
            int[] candidates = ints(required(c, "S"));
            float[][] centroids = new float[candidates.length][];
            for (int j = 0; j < candidates.length; j++) {
                if (candidates[j] < 0 || candidates[j] >= taps.size()) {
                    throw new IllegalArgumentException("class " + index + ": layer " + candidates[j] + " is not a tap");
                }
                String key = key(index, taps.get(candidates[j]));
                HostTensor t = tensors.get(key);
                if (t == null || t.isInteger()) {
                    throw new IllegalArgumentException(TENSORS_FILE + " has no floating-point centroid '" + key + "'");
                }
                centroids[j] = t.floats();
            }
            Mahalanobis mahalanobis = scoreRule == ScoreRule.MAHALANOBIS
                    ? new Mahalanobis(doubles(required(c, "cosine_mean")), doubles(required(c, "precision"))) : null;
            classes.add(new ClassStatistics(index, required(c, "lstar").asInt(), candidates,
                    doubles(required(c, "weights")), centroids, required(c, "mean").asDouble(),
                    required(c, "std").asDouble(), required(c, "threshold").asDouble(), required(c, "n_loc").asInt(),
                    required(c, "n_ref").asInt(), doubles(required(c, "a")), doubles(required(c, "delta")),
                    mahalanobis));
        }
        List<String> warnings = new ArrayList<>();
        root.path("warnings").forEach(w -> warnings.add(w.asText()));
        JsonNode provenance = required(root, "provenance");
        if (!provenance.isObject()) {
            throw new IllegalArgumentException("'provenance' must be an object");
        }
        return new DetectorArtifact(new DetectorCalibration(taps, dims, mode, scoreRule, rule, classes, warnings,
                centroidFormat), (ObjectNode) provenance);
    }

    /**
     * Refuses an artifact that does not belong to {@code bundle} or to the architecture: the SHA-256
     * of {@code weights.safetensors} and {@code model.json}, the class count, the tap names and the
     * tap dimensions must all match; the message names the difference.
     */
    public void verify(Path bundle, List<String> architectureTaps, int[] tapDims, int numClasses) throws IOException {
        String where = bundle.resolve(JSON_FILE) + ": ";
        for (String[] f : new String[][] {{"weights.safetensors", "weights_sha256"}, {"model.json", "model_json_sha256"}}) {
            String actual = Bundles.sha256(bundle.resolve(f[0]));
            String expected = provenance.get(f[1]).asText();
            if (!actual.equals(expected)) {
                throw new BundleException(where + "calibrated for " + f[0] + " with SHA-256 " + expected
                        + ", but the bundle's " + f[0] + " has SHA-256 " + actual
                        + ": the detector does not belong to this model (recalibrate with guard calibrate)");
            }
        }
        if (!calibration.taps().equals(architectureTaps)) {
            throw new BundleException(where + "taps " + calibration.taps() + " differ from the architecture's taps "
                    + architectureTaps);
        }
        for (int l = 0; l < tapDims.length; l++) {
            if (calibration.dims()[l] != tapDims[l]) {
                throw new BundleException(where + "tap '" + architectureTaps.get(l) + "' has dimension "
                        + calibration.dims()[l] + " in the detector but " + tapDims[l] + " in the model");
            }
        }
        if (calibration.numClasses() != numClasses) {
            throw new BundleException(where + calibration.numClasses() + " classes calibrated, the model has "
                    + numClasses);
        }
    }

    private static JsonNode required(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("missing field '" + field + "'");
        }
        return v;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }
}
