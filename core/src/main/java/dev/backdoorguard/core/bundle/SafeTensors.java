package dev.backdoorguard.core.bundle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw
 * little-endian data) without any code execution and with every length checked against the file
 * before anything is allocated, so a forged header cannot cause an out-of-memory.
 */
public final class SafeTensors {
    /** Headers beyond this are refused: real headers are kilobytes. */
    static final long MAX_HEADER_BYTES = 64L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /** Reads every tensor of {@code file}; float dtypes are converted to F32, integers to int64. */
    public static Map<String, HostTensor> read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw new BundleException(file + ": not a safetensors file (" + fileSize + " bytes, header length missing)");
            }
            ByteBuffer lengthBytes = readFully(channel, 0, 8, file);
            long headerLength = lengthBytes.order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || headerLength > fileSize - 8) {
                throw new BundleException(file + ": truncated or corrupt safetensors header (declared header length "
                        + headerLength + ", file has " + fileSize + " bytes)");
            }
            ByteBuffer headerBytes = readFully(channel, 8, (int) headerLength, file);
            JsonNode header;
            try {
                header = JSON.readTree(StandardCharsets.UTF_8.decode(headerBytes).toString());
            } catch (IOException e) {
                throw BundleException.invalidJson(file + ": safetensors header is not valid JSON", e);
            }
            if (header == null || !header.isObject()) {
                throw new BundleException(file + ": safetensors header is not a JSON object");
            }
            long dataStart = 8 + headerLength;
            long dataSize = fileSize - dataStart;
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                if (entry.getKey().equals("__metadata__")) {
                    continue;
                }
                tensors.put(entry.getKey(), readTensor(channel, file, entry.getKey(), entry.getValue(), dataStart, dataSize));
            }
            return tensors;
        }
    }

    private static HostTensor readTensor(
            FileChannel channel, Path file, String name, JsonNode info, long dataStart, long dataSize)
            throws IOException {
        String where = file + ": tensor '" + name + "'";
        if (!info.isObject() || !info.path("dtype").isTextual() || !info.path("shape").isArray()
                || !info.path("data_offsets").isArray() || info.path("data_offsets").size() != 2) {
            throw new BundleException(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
        }
        DType dtype = DType.parse(info.get("dtype").asText(), where);
        long[] shape = new long[info.get("shape").size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode dim = info.get("shape").get(i);
            if (!dim.canConvertToLong() || dim.asLong() < 0) {
                throw new BundleException(where + ": invalid dimension " + dim + " in shape");
            }
            shape[i] = dim.asLong();
            if (shape[i] > Integer.MAX_VALUE) {
                throw new BundleException(where + ": shape " + info.get("shape") + " is too large");
            }
            count *= shape[i]; // cannot overflow: count <= 2^28 and shape[i] < 2^31 before this step
            if (count > Integer.MAX_VALUE / 8) {
                throw new BundleException(where + ": shape " + info.get("shape") + " is too large");
            }
        }
        long begin = info.get("data_offsets").get(0).asLong(-1);
        long end = info.get("data_offsets").get(1).asLong(-1);
        if (begin < 0 || end < begin || end > dataSize) {
            throw new BundleException(where + ": data_offsets [" + begin + ", " + end
                    + "] fall outside the data section of " + dataSize + " bytes (truncated file?)");
        }
        if (end - begin != count * dtype.bytes) {
            throw new BundleException(where + ": shape " + info.get("shape") + " of " + dtype + " needs "
                    + count * dtype.bytes + " bytes but data_offsets span " + (end - begin));
        }
        ByteBuffer data = readFully(channel, dataStart + begin, (int) (end - begin), file).order(ByteOrder.LITTLE_ENDIAN);
        return dtype.decode(name, shape, data, (int) count);
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length, Path file) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new BundleException(file + ": unexpected end of file (truncated safetensors)");
            }
            pos += n;
        }
        return buffer.flip();
    }

    /** Writes F32 tensors (keys sorted, as the reference library does) with optional string metadata. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, FloatFormat.F32);
    }

    /** As {@link #write(Path, Map, Map)}, storing floating-point tensors in {@code floats}. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata,
            FloatFormat floats) throws IOException {
        Map<String, HostTensor> sorted = new TreeMap<>(tensors);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        List<HostTensor> order = new ArrayList<>();
        for (Map.Entry<String, HostTensor> e : sorted.entrySet()) {
            HostTensor t = e.getValue();
            ObjectNode entry = header.putObject(e.getKey());
            entry.put("dtype", t.isInteger() ? "I64" : floats.name());
            var shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long size = (long) t.size() * (t.isInteger() ? 8 : floats.bytes());
            entry.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
            order.add(t);
        }
        byte[] headerJson = JSON.writeValueAsBytes(header);
        int padded = (headerJson.length + 7) / 8 * 8;
        try (OutputStream out = Files.newOutputStream(file)) {
            ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            prefix.putLong(padded).put(headerJson);
            while (prefix.hasRemaining()) {
                prefix.put((byte) ' ');
            }
            out.write(prefix.array());
            for (HostTensor t : order) {
                ByteBuffer data = ByteBuffer.allocate(t.size() * (t.isInteger() ? 8 : floats.bytes()))
                        .order(ByteOrder.LITTLE_ENDIAN);
                if (t.isInteger()) {
                    data.asLongBuffer().put(t.longs());
                } else if (floats == FloatFormat.F32) {
                    data.asFloatBuffer().put(t.floats());
                } else {
                    for (float v : t.floats()) {
                        data.putShort(Float16.fromFloat(v));
                    }
                }
                out.write(data.array());
            }
        }
    }

    /** The dtypes DESIGN.md §3 accepts. */
    private enum DType {
        F32(4), F64(8), F16(2), BF16(2), I64(8), I32(4), U8(1), I8(1), BOOL(1);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        static DType parse(String s, String where) throws BundleException {
            try {
                return valueOf(s);
            } catch (IllegalArgumentException e) {
                throw new BundleException(where + ": unsupported dtype '" + s + "'");
            }
        }

        HostTensor decode(String name, long[] shape, ByteBuffer data, int count) {
            switch (this) {
                case F32: {
                    float[] v = new float[count];
                    data.asFloatBuffer().get(v);
                    return HostTensor.ofFloats(name, shape, v);
                }
                case F64: {
                    float[] v = new float[count];
                    for (int i = 0; i < count; i++) {
                        v[i] = (float) data.getDouble();
                    }
                    return HostTensor.ofFloats(name, shape, v);
                }
                case F16: {
                    float[] v = new float[count];
                    for (int i = 0; i < count; i++) {
                        v[i] = Float16.toFloat(data.getShort());
                    }
                    return HostTensor.ofFloats(name, shape, v);
                }
                case BF16: {
                    float[] v = new float[count];
                    for (int i = 0; i < count; i++) {
                        v[i] = Float.intBitsToFloat((data.getShort() & 0xffff) << 16);
                    }
                    return HostTensor.ofFloats(name, shape, v);
                }
                default: {
                    long[] v = new long[count];
                    for (int i = 0; i < count; i++) {
                        v[i] = switch (this) {
                            case I64 -> data.getLong();
                            case I32 -> data.getInt();
                            case U8, BOOL -> data.get() & 0xff;
                            default -> data.get();
                        };
                    }
                    return HostTensor.ofLongs(name, shape, v);
                }
            }
        }
    }
}
