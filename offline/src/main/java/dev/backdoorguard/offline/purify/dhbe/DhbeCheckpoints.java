package dev.backdoorguard.offline.purify.dhbe;

import dev.backdoorguard.core.bundle.AtomicDirectory;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Where and how often a DHBE run saves its state, and whether it starts from a saved one. A
 * checkpoint is one directory holding {@code state.safetensors} (tensors) and {@code checkpoint.json}
 * (iteration, settings, history), replaced atomically as a whole each time, so an interruption leaves
 * either the previous checkpoint or the new one, never a mix.
 */
public record DhbeCheckpoints(Path dir, int every, boolean resume) {
    public static final String TENSORS = "state.safetensors";
    public static final String META = "checkpoint.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String FORMAT = "dhbe-checkpoint-1";

    public DhbeCheckpoints {
        if (every < 0) {
            throw new IllegalArgumentException("--checkpoint-every must be >= 0 (0 = never), got " + every);
        }
        if ((every > 0 || resume) && dir == null) {
            throw new IllegalArgumentException("checkpoints need a directory");
        }
    }

    public static DhbeCheckpoints none() {
        return new DhbeCheckpoints(null, 0, false);
    }

    /** A saved state, as read back. */
    record Saved(Map<String, HostTensor> tensors, ObjectNode metadata) {}

    void write(Map<String, HostTensor> tensors, ObjectNode metadata) throws IOException {
        metadata.put("format", FORMAT);
        AtomicDirectory.write(dir, true, d -> {
            SafeTensors.write(d.resolve(TENSORS), tensors, Map.of("format", FORMAT));
            JSON.writeValue(d.resolve(META).toFile(), metadata);
        });
    }

    /**
     * Each checkpoint replaces the directory as a whole, so it must be one this class wrote (or empty):
     * pointing --checkpoint-dir at anything else would delete it.
     */
    private void checkOwnDirectory() throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--checkpoint-dir " + dir + " is a file, not a directory");
        }
        boolean empty;
        try (java.util.stream.Stream<Path> children = Files.list(dir)) {
            empty = children.findAny().isEmpty();
        }
        if (!empty && !Files.isRegularFile(dir.resolve(META))) {
            throw new IllegalArgumentException("--checkpoint-dir " + dir + " holds other files (no " + META
                    + "): each checkpoint replaces the whole directory, so give a new or empty one");
        }
        if (!empty && !resume && !isCheckpoint(dir.resolve(META))) {  // --resume reads and checks it itself
            throw new IllegalArgumentException("--checkpoint-dir " + dir + ": its " + META + " is not a DHBE"
                    + " checkpoint's (format " + FORMAT + "), so the directory is not one this tool wrote; give a new"
                    + " or empty one");
        }
    }

    /** Whether parsed checkpoint.json content was written by this class (its format marker). */
    private static boolean hasOurFormat(JsonNode metadata) {
        return metadata != null && FORMAT.equals(metadata.path("format").asText(null));
    }

    private static boolean isCheckpoint(Path meta) {
        try {
            return hasOurFormat(JSON.readTree(meta.toFile()));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Fails fast, before any work, when checkpoints cannot be written, or --resume has nothing to
     * resume or the settings differ.
     */
    public void checkResumable(DhbeConfig config) throws IOException {
        if (every > 0 || resume) {
            AtomicDirectory.recover(dir); // a run killed while replacing the checkpoint left it under a temporary name
        }
        if (every > 0) {
            checkOwnDirectory();
            AtomicDirectory.checkWritable(dir);
        }
        if (!resume) {
            return;
        }
        Path file = dir.resolve(META);
        if (!Files.isRegularFile(file) || !Files.isRegularFile(dir.resolve(TENSORS))) {
            throw new BundleException("--resume: no checkpoint in " + dir + " (expected " + META + " and " + TENSORS + ")");
        }
        JsonNode metadata;
        try {
            metadata = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw BundleException.invalidJson("--resume: corrupt checkpoint " + file, e);
        }
        if (!hasOurFormat(metadata)) {
            throw new BundleException("--resume: " + file + " is not a DHBE checkpoint");
        }
        List<String> differ = mismatches(config.toJson(), metadata.path("config"));
        if (!differ.isEmpty()) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " was written with other settings: "
                    + String.join(", ", differ));
        }
    }

    /** Settings added after the checkpoint format, with the reference value older checkpoints ran. */
    private static final Map<String, JsonNode> ADDED_LATER = Map.of(
            "student_bn", TextNode.valueOf(DhbeConfig.StudentBn.TRAIN.label()),
            "generator_warmup", IntNode.valueOf(0),
            "bn_prior", DoubleNode.valueOf(0));

    /** The settings that differ between this run and a checkpoint, as "name saved -> now". */
    static List<String> mismatches(ObjectNode now, JsonNode saved) {
        List<String> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = now.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode old = saved.path(e.getKey());
            if (old.isMissingNode() && ADDED_LATER.containsKey(e.getKey())) {
                // checkpoints written before these options existed ran the reference
                old = ADDED_LATER.get(e.getKey());
            }
            if (!old.equals(e.getValue()) && !(old.isNumber() && e.getValue().isNumber()
                    && old.asDouble() == e.getValue().asDouble())) {
                out.add(e.getKey() + " " + (old.isMissingNode() ? "missing" : old.asText()) + " -> "
                        + e.getValue().asText());
            }
        }
        return out;
    }

    /** Parser messages can span lines (a location excerpt): the error report is one line. */
    private static String firstLine(Exception e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl).strip();
    }

    /** Reads the checkpoint to resume from; a missing, unreadable or foreign one is one clear error. */
    Saved read() throws IOException {
        AtomicDirectory.recover(dir);
        Path file = dir.resolve(META);
        if (!Files.isRegularFile(file)) {
            throw new BundleException("--resume: no checkpoint at " + file);
        }
        try {
            JsonNode metadata = JSON.readTree(file.toFile());
            if (metadata == null || !metadata.isObject() || !FORMAT.equals(metadata.path("format").asText())) {
                throw new BundleException("--resume: " + file + " is not a DHBE checkpoint (format "
                        + (metadata == null ? "?" : metadata.path("format").asText("?")) + ")");
            }
            return new Saved(SafeTensors.read(dir.resolve(TENSORS)), (ObjectNode) metadata);
        } catch (BundleException e) {
            throw e.getMessage().startsWith("--resume") ? e
                    : new BundleException("--resume: corrupt checkpoint " + file + ": " + firstLine(e));
        } catch (IOException e) {
            throw BundleException.invalidJson("--resume: corrupt checkpoint " + file, e);
        } catch (RuntimeException e) {
            throw new BundleException("--resume: corrupt checkpoint " + file + ": " + firstLine(e));
        }
    }
}
