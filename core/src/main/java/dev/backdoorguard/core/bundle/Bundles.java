package dev.backdoorguard.core.bundle;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/** Writes complete bundles atomically and hashes their files for provenance. */
public final class Bundles {
    private Bundles() {}

    /**
     * Writes {@code model.json}, {@code weights.safetensors} and, when given, {@code report.json} as
     * one atomic directory (DESIGN.md §3).
     */
    public static void write(Path out, boolean replace, ModelSpec spec, Map<String, HostTensor> weights,
            ObjectNode report) throws IOException {
        write(out, replace, spec, weights, report, Map.of());
    }

    /** As {@link #write(Path, boolean, ModelSpec, Map, ObjectNode)}, plus extra files (charts) by name. */
    public static void write(Path out, boolean replace, ModelSpec spec, Map<String, HostTensor> weights,
            ObjectNode report, Map<String, byte[]> extraFiles) throws IOException {
        AtomicDirectory.write(out, replace, dir -> {
            for (Map.Entry<String, byte[]> e : extraFiles.entrySet()) {
                Files.write(dir.resolve(e.getKey()), e.getValue());
            }
            ModelJson.write(spec, dir.resolve("model.json"));
            SafeTensors.write(dir.resolve("weights.safetensors"), weights, Map.of("format", "pt"));
            if (report != null) {
                ModelJson.JSON.writeValue(dir.resolve("report.json").toFile(), report);
            }
        });
    }

    /** The hex SHA-256 of a file. */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest())) {
            MessageDigest md = ((DigestInputStream) in).getMessageDigest();
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(md.digest());
        }
    }

    /** The hex SHA-256 of bytes. */
    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JVM", e);
        }
    }
}
