package dev.backdoorguard.server.rpc;

import com.google.protobuf.ByteString;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.guard.BatchPrediction;
import dev.backdoorguard.core.guard.InvalidInputException;
import dev.backdoorguard.core.guard.PixelBatch;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import dev.backdoorguard.proto.inference.ModelMetadataResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The only translation between the wire messages and the core's plain values (DESIGN §7). */
final class Messages {
    static final String INPUT = "input";
    static final String LOGITS = "logits";
    static final String PROBABILITIES = "probabilities";
    static final String LABEL = "label";
    static final String GUARD_SCORE = "guard_score";
    static final String GUARD_FLAG = "guard_flag";
    static final List<String> OUTPUTS = List.of(LOGITS, PROBABILITIES, LABEL, GUARD_SCORE, GUARD_FLAG);
    static final String PLATFORM = "pytorch_safetensors";
    static final String MODE_PARAMETER = "guard.mode";

    /** A validated request: the pixels, the outputs to return, the guard mode, and the wire form to answer in. */
    record InferenceCall(PixelBatch batch, List<String> outputs, GuardMode mode, boolean raw) {}

    private Messages() {}

    static InferenceCall toCall(ModelInferRequest request, ModelSpec spec, GuardMode defaultMode, int maxItems) {
        if (request.getInputsCount() == 0) {
            throw new InvalidInputException("inputs: no input given; send one input named 'input'");
        }
        if (request.getInputsCount() != 1) {
            throw new InvalidInputException("inputs: expected exactly one input named 'input', got "
                    + request.getInputsCount());
        }
        ModelInferRequest.InferInputTensor input = request.getInputs(0);
        if (!INPUT.equals(input.getName())) {
            throw new InvalidInputException("inputs[0].name: expected 'input', got '" + input.getName() + "'");
        }
        boolean raw = request.getRawInputContentsCount() > 0;
        if (raw && input.hasContents()) {
            throw new InvalidInputException("inputs[0]: both contents and raw_input_contents are set; use one");
        }
        if (request.getRawInputContentsCount() > 1) {
            throw new InvalidInputException("raw_input_contents: expected one entry (one input), got "
                    + request.getRawInputContentsCount());
        }
        PixelBatch batch = decodePixels(input.getDatatype(), input.getShapeList(),
                raw ? request.getRawInputContents(0) : null, input.getContents(), spec, maxItems, "inputs[0]",
                raw ? "raw_input_contents[0]" : "inputs[0].contents");
        GuardMode mode = defaultMode;
        InferParameter p = request.getParametersMap().get(MODE_PARAMETER);
        if (p != null) {
            if (p.getParameterChoiceCase() != InferParameter.ParameterChoiceCase.STRING_PARAM) {
                throw new InvalidInputException("parameters['guard.mode']: expected a string_param off|flag|block");
            }
            mode = GuardMode.parse(p.getStringParam(), "parameters['guard.mode']");
        }
        List<String> outputs;
        if (request.getOutputsCount() == 0) {
            outputs = OUTPUTS;
        } else {
            Set<String> wanted = new LinkedHashSet<>();
            for (int i = 0; i < request.getOutputsCount(); i++) {
                String name = request.getOutputs(i).getName();
                if (!OUTPUTS.contains(name)) {
                    throw new InvalidInputException("outputs[" + i + "].name: unknown output '" + name
                            + "'; expected one of " + OUTPUTS);
                }
                wanted.add(name);
            }
            outputs = List.copyOf(wanted);
        }
        return new InferenceCall(batch, outputs, mode, raw);
    }

    /**
     * Decodes pixels in any accepted form: FP32 [N,C,H,W] in [0,1], UINT8 [N,C,H,W], BYTES [N] or
     * [N,1] (PNG/JPEG), from {@code raw} (little-endian; null when absent) or {@code contents}.
     */
    static PixelBatch decodePixels(String datatype, List<Long> shape, ByteString raw, InferTensorContents contents,
            ModelSpec spec, int maxItems, String field, String dataField) {
        int c = spec.channels();
        int h = spec.height();
        int w = spec.imageWidth();
        int per = spec.imageSize();
        switch (datatype) {
            case "FP32", "UINT8" -> {
                int n = checkImageShape(shape, spec, maxItems, field);
                float[] pixels = new float[n * per];
                if (datatype.equals("FP32")) {
                    readFloats(raw, contents, pixels, dataField);
                } else {
                    readBytes(raw, contents, pixels, dataField);
                }
                return new PixelBatch(pixels, n, c, h, w);
            }
            case "BYTES" -> {
                // [N, 1] too: Triton's clients often give BYTES tensors a trailing element dimension.
                if (shape.size() != 1 && !(shape.size() == 2 && shape.get(1) == 1)) {
                    throw new InvalidInputException(field + ".shape: BYTES input must be [N] or [N, 1] (one encoded"
                            + " image per item), got " + shape);
                }
                int n = checkItems(shape.get(0), maxItems, field);
                List<byte[]> images = raw != null ? splitLengthPrefixed(raw, dataField) : bytesContents(contents);
                if (images.size() != n) {
                    throw new InvalidInputException(dataField + ": shape [" + n + "] needs " + n
                            + " encoded images, got " + images.size());
                }
                float[] pixels = new float[n * per];
                for (int i = 0; i < n; i++) {
                    ImageDecoder.decode(images.get(i), spec, pixels, i * per, dataField + " item " + i);
                }
                return new PixelBatch(pixels, n, c, h, w);
            }
            default -> throw new InvalidInputException(field + ".datatype: expected FP32, UINT8 or BYTES, got '"
                    + datatype + "'");
        }
    }

    private static int checkImageShape(List<Long> shape, ModelSpec spec, int maxItems, String field) {
        if (shape.size() != 4 || shape.get(1) != spec.channels() || shape.get(2) != spec.height()
                || shape.get(3) != spec.imageWidth()) {
            throw new InvalidInputException(field + ".shape: expected [N, " + spec.channels() + ", " + spec.height()
                    + ", " + spec.imageWidth() + "], got " + shape);
        }
        return checkItems(shape.get(0), maxItems, field);
    }

    private static int checkItems(long n, int maxItems, String field) {
        if (n < 1) {
            throw new InvalidInputException(field + ".shape: the batch dimension must be >= 1, got " + n);
        }
        if (n > maxItems) {
            throw new InvalidInputException(field + ".shape: " + n + " items exceed the server's limit of "
                    + maxItems + " per request");
        }
        return (int) n;
    }

    private static void readFloats(ByteString raw, InferTensorContents contents, float[] out, String field) {
        if (raw != null) {
            if (raw.size() != out.length * 4L) {
                throw new InvalidInputException(field + ": FP32 shape needs " + out.length * 4L + " bytes, got "
                        + raw.size());
            }
            raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        } else {
            if (contents.getFp32ContentsCount() != out.length) {
                throw new InvalidInputException(field + ".fp32_contents: shape needs " + out.length
                        + " values, got " + contents.getFp32ContentsCount());
            }
            for (int i = 0; i < out.length; i++) {
                out[i] = contents.getFp32Contents(i);
            }
        }
        for (int i = 0; i < out.length; i++) {
            if (!(out[i] >= 0f && out[i] <= 1f)) {
                throw new InvalidInputException(field + ": FP32 pixels must be in [0, 1], value " + i + " is "
                        + out[i]);
            }
        }
    }

    private static void readBytes(ByteString raw, InferTensorContents contents, float[] out, String field) {
        if (raw != null) {
            if (raw.size() != out.length) {
                throw new InvalidInputException(field + ": UINT8 shape needs " + out.length + " bytes, got "
                        + raw.size());
            }
            // One buffer view: byteAt on a large (rope) ByteString walks its tree for every pixel.
            java.nio.ByteBuffer bytes = raw.asReadOnlyByteBuffer();
            for (int i = 0; i < out.length; i++) {
                out[i] = (bytes.get(i) & 0xFF) / 255f;
            }
        } else {
            if (contents.getUintContentsCount() != out.length) {
                throw new InvalidInputException(field + ".uint_contents: shape needs " + out.length
                        + " values, got " + contents.getUintContentsCount());
            }
            for (int i = 0; i < out.length; i++) {
                int v = contents.getUintContents(i);
                if (v < 0 || v > 255) {
                    throw new InvalidInputException(field + ".uint_contents: UINT8 values must be 0..255, value "
                            + i + " is " + Integer.toUnsignedString(v));
                }
                out[i] = v / 255f;
            }
        }
    }

    private static List<byte[]> bytesContents(InferTensorContents contents) {
        List<byte[]> out = new ArrayList<>(contents.getBytesContentsCount());
        for (ByteString b : contents.getBytesContentsList()) {
            out.add(b.toByteArray());
        }
        return out;
    }

    /** Triton's binary BYTES form: each element a 4-byte little-endian length, then the bytes. */
    private static List<byte[]> splitLengthPrefixed(ByteString raw, String field) {
        ByteBuffer buffer = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> out = new ArrayList<>();
        while (buffer.hasRemaining()) {
            if (buffer.remaining() < 4) {
                throw new InvalidInputException(field + ": truncated BYTES element length");
            }
            long length = Integer.toUnsignedLong(buffer.getInt());
            if (length > buffer.remaining()) {
                throw new InvalidInputException(field + ": BYTES element " + out.size() + " claims " + length
                        + " bytes, only " + buffer.remaining() + " left");
            }
            byte[] element = new byte[(int) length];
            buffer.get(element);
            out.add(element);
        }
        return out;
    }

    static ModelInferResponse toResponse(ModelInferRequest request, String model, String version,
            InferenceCall call, BatchPrediction p, String detector, String action) {
        int n = p.size();
        int k = p.numClasses();
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                .setModelName(model).setModelVersion(version).setId(request.getId())
                .putParameters("guard.suspicious", InferParameter.newBuilder()
                        .setBoolParam(p.flaggedCount() > 0).build())
                .putParameters("guard.detector", InferParameter.newBuilder()
                        .setStringParam(p.isGuarded() ? detector : "none").build())
                .putParameters("guard.action", InferParameter.newBuilder().setStringParam(action).build());
        for (String name : call.outputs()) {
            ModelInferResponse.InferOutputTensor.Builder tensor = ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName(name);
            // Answer in the form the client used: raw in, raw out (as Triton does); contents otherwise.
            TensorWriter out = call.raw() ? new RawWriter() : new ContentsWriter();
            switch (name) {
                case LOGITS, PROBABILITIES -> {
                    float[] values = name.equals(LOGITS) ? p.logits() : p.probabilities();
                    tensor.setDatatype("FP32").addShape(n).addShape(k);
                    out.floats(values);
                }
                case LABEL -> {
                    tensor.setDatatype("INT64").addShape(n);
                    out.longs(p.labels());
                }
                case GUARD_SCORE -> {
                    // NaN when the guard did not run (mode off, or no detector in the bundle).
                    tensor.setDatatype("FP32").addShape(n);
                    float[] scores = new float[n];
                    for (int i = 0; i < n; i++) {
                        scores[i] = p.isGuarded() ? p.scores()[i] : Float.NaN;
                    }
                    out.floats(scores);
                }
                default -> {
                    tensor.setDatatype("BOOL").addShape(n);
                    boolean[] flags = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        flags[i] = p.isGuarded() && p.flags()[i];
                    }
                    out.bools(flags);
                }
            }
            out.finish(response, tensor);
            response.addOutputs(tensor);
        }
        return response.build();
    }

    static ModelMetadataResponse metadata(String name, String version, ModelSpec spec) {
        ModelMetadataResponse.Builder b = ModelMetadataResponse.newBuilder()
                .setName(name).addVersions(version).setPlatform(PLATFORM);
        b.addInputs(tensor(INPUT, "FP32", -1, spec.channels(), spec.height(), spec.imageWidth()));
        b.addOutputs(tensor(LOGITS, "FP32", -1, spec.numClasses()));
        b.addOutputs(tensor(PROBABILITIES, "FP32", -1, spec.numClasses()));
        b.addOutputs(tensor(LABEL, "INT64", -1));
        b.addOutputs(tensor(GUARD_SCORE, "FP32", -1));
        b.addOutputs(tensor(GUARD_FLAG, "BOOL", -1));
        return b.build();
    }

    /** Writes one output tensor either as typed contents or as little-endian raw bytes. */
    private interface TensorWriter {
        void floats(float[] values);

        void longs(int[] values);

        void bools(boolean[] values);

        void finish(ModelInferResponse.Builder response, ModelInferResponse.InferOutputTensor.Builder tensor);
    }

    private static final class RawWriter implements TensorWriter {
        private ByteBuffer buffer;

        @Override
        public void floats(float[] values) {
            buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buffer.asFloatBuffer().put(values);
        }

        @Override
        public void longs(int[] values) {
            buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int v : values) {
                buffer.putLong(v);
            }
        }

        @Override
        public void bools(boolean[] values) {
            buffer = ByteBuffer.allocate(values.length);
            for (boolean v : values) {
                buffer.put((byte) (v ? 1 : 0));  // BOOL travels as one byte, 0 or 1
            }
        }

        @Override
        public void finish(ModelInferResponse.Builder response, ModelInferResponse.InferOutputTensor.Builder tensor) {
            response.addRawOutputContents(ByteString.copyFrom(buffer.array()));
        }
    }

    private static final class ContentsWriter implements TensorWriter {
        private final InferTensorContents.Builder contents = InferTensorContents.newBuilder();

        @Override
        public void floats(float[] values) {
            for (float v : values) {
                contents.addFp32Contents(v);
            }
        }

        @Override
        public void longs(int[] values) {
            for (int v : values) {
                contents.addInt64Contents(v);
            }
        }

        @Override
        public void bools(boolean[] values) {
            for (boolean v : values) {
                contents.addBoolContents(v);
            }
        }

        @Override
        public void finish(ModelInferResponse.Builder response, ModelInferResponse.InferOutputTensor.Builder tensor) {
            tensor.setContents(contents);
        }
    }

    private static ModelMetadataResponse.TensorMetadata tensor(String name, String datatype, long... shape) {
        ModelMetadataResponse.TensorMetadata.Builder t = ModelMetadataResponse.TensorMetadata.newBuilder()
                .setName(name).setDatatype(datatype);
        for (long d : shape) {
            t.addShape(d);
        }
        return t.build();
    }
}
