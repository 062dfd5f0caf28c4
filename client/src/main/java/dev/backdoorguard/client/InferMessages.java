package dev.backdoorguard.client;

import com.google.protobuf.ByteString;
import dev.backdoorguard.proto.inference.InferParameter;
import dev.backdoorguard.proto.inference.InferTensorContents;
import dev.backdoorguard.proto.inference.ModelInferRequest;
import dev.backdoorguard.proto.inference.ModelInferResponse;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** The only place that maps client values to and from the inference protocol's messages. */
final class InferMessages {
    static final String INPUT = "input";
    static final String MODE_PARAMETER = "guard.mode";

    private InferMessages() {}

    static ModelInferRequest request(PredictRequest call) {
        InputBatch batch = call.batch();
        ModelInferRequest.InferInputTensor.Builder input = ModelInferRequest.InferInputTensor.newBuilder()
                .setName(INPUT)
                .setDatatype(batch.datatype().name());
        for (long dim : batch.shape()) {
            input.addShape(dim);
        }
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder()
                .setModelName(call.model())
                .setModelVersion(call.version());
        if (call.mode() != null) {
            request.putParameters(MODE_PARAMETER,
                    InferParameter.newBuilder().setStringParam(call.mode().wireName()).build());
        }
        if (batch.datatype() == InputBatch.Datatype.BYTES) {
            // Encoded images go in contents.bytes_contents: one element per item, no length prefixes to get wrong.
            InferTensorContents.Builder contents = InferTensorContents.newBuilder();
            for (byte[] image : batch.encodedImages()) {
                contents.addBytesContents(ByteString.copyFrom(image));
            }
            input.setContents(contents);
            request.addInputs(input);
        } else {
            // Pixels travel raw (little-endian): 4 bytes per FP32 value instead of a varint-framed repeated field.
            request.addInputs(input);
            request.addRawInputContents(ByteString.copyFrom(batch.raw()));
        }
        return request.build();
    }

    static Prediction prediction(ModelInferResponse response, int items, List<String> labels) {
        float[] probabilities = null;
        float[] logits = null;
        long[] label = null;
        float[] scores = null;
        boolean[] flags = null;
        boolean raw = response.getRawOutputContentsCount() > 0;
        for (int i = 0; i < response.getOutputsCount(); i++) {
            ModelInferResponse.InferOutputTensor output = response.getOutputs(i);
            ByteString bytes = raw && i < response.getRawOutputContentsCount() ? response.getRawOutputContents(i) : null;
            switch (output.getName()) {
                case "probabilities":
                    probabilities = floats(output, bytes);
                    break;
                case "logits":
                    logits = floats(output, bytes);
                    break;
                case "label":
                    label = longs(output, bytes);
                    break;
                case "guard_score":
                    scores = floats(output, bytes);
                    break;
                case "guard_flag":
                    flags = bools(output, bytes);
                    break;
                default:
                    break; // outputs this client does not know are ignored, as the protocol allows
            }
        }
        float[] perClass = probabilities != null ? probabilities : logits != null ? softmaxRows(logits, items) : null;
        if (label == null && perClass == null) {
            throw malformed("the response has neither a label nor a probabilities/logits output");
        }
        int classes = perClass == null ? 0 : checkedRows(perClass.length, items, "probabilities");
        checkLength(label, items, "label");
        checkLength(scores, items, "guard_score");
        checkLength(flags, items, "guard_flag");
        List<ItemResult> results = new ArrayList<>(items);
        for (int n = 0; n < items; n++) {
            float[] row = perClass == null ? new float[0] : Arrays.copyOfRange(perClass, n * classes, (n + 1) * classes);
            int index = label != null ? Math.toIntExact(label[n]) : argmax(row);
            String name = index >= 0 && index < labels.size() ? labels.get(index) : null;
            double score = scores == null ? Double.NaN : scores[n];
            results.add(new ItemResult(n, index, name, row, score, flags != null && flags[n]));
        }
        Map<String, InferParameter> parameters = response.getParametersMap();
        boolean suspicious = parameters.containsKey("guard.suspicious")
                ? parameters.get("guard.suspicious").getBoolParam()
                : results.stream().anyMatch(ItemResult::flagged);
        return new Prediction(response.getModelName(), response.getModelVersion(), results, suspicious,
                stringParameter(parameters, "guard.action"), stringParameter(parameters, "guard.detector"));
    }

    private static String stringParameter(Map<String, InferParameter> parameters, String key) {
        InferParameter value = parameters.get(key);
        return value == null ? "" : value.getStringParam();
    }

    private static float[] floats(ModelInferResponse.InferOutputTensor output, ByteString raw) {
        requireType(output, "FP32");
        if (raw == null) {
            List<Float> values = output.getContents().getFp32ContentsList();
            float[] result = new float[values.size()];
            for (int i = 0; i < result.length; i++) {
                result[i] = values.get(i);
            }
            return result;
        }
        ByteBuffer buffer = littleEndian(raw, Float.BYTES, output.getName());
        float[] result = new float[raw.size() / Float.BYTES];
        buffer.asFloatBuffer().get(result);
        return result;
    }

    private static long[] longs(ModelInferResponse.InferOutputTensor output, ByteString raw) {
        if (output.getDatatype().equals("INT32")) {
            if (raw == null) {
                return output.getContents().getIntContentsList().stream().mapToLong(Integer::longValue).toArray();
            }
            int[] ints = new int[raw.size() / Integer.BYTES];
            littleEndian(raw, Integer.BYTES, output.getName()).asIntBuffer().get(ints);
            return Arrays.stream(ints).asLongStream().toArray();
        }
        requireType(output, "INT64");
        if (raw == null) {
            return output.getContents().getInt64ContentsList().stream().mapToLong(Long::longValue).toArray();
        }
        long[] result = new long[raw.size() / Long.BYTES];
        littleEndian(raw, Long.BYTES, output.getName()).asLongBuffer().get(result);
        return result;
    }

    private static boolean[] bools(ModelInferResponse.InferOutputTensor output, ByteString raw) {
        requireType(output, "BOOL");
        if (raw == null) {
            List<Boolean> values = output.getContents().getBoolContentsList();
            boolean[] result = new boolean[values.size()];
            for (int i = 0; i < result.length; i++) {
                result[i] = values.get(i);
            }
            return result;
        }
        boolean[] result = new boolean[raw.size()];
        for (int i = 0; i < result.length; i++) {
            result[i] = raw.byteAt(i) != 0; // a raw BOOL is one byte, 0 or 1
        }
        return result;
    }

    private static ByteBuffer littleEndian(ByteString raw, int width, String name) {
        if (raw.size() % width != 0) {
            throw malformed("raw output '" + name + "' has " + raw.size() + " bytes, not a multiple of " + width);
        }
        return raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void requireType(ModelInferResponse.InferOutputTensor output, String datatype) {
        if (!output.getDatatype().equals(datatype)) {
            throw malformed("output '" + output.getName() + "' has datatype " + output.getDatatype()
                    + ", expected " + datatype);
        }
    }

    private static int checkedRows(int length, int items, String name) {
        if (items == 0 || length % items != 0) {
            throw malformed("output '" + name + "' has " + length + " values for " + items + " items");
        }
        return length / items;
    }

    private static void checkLength(Object array, int items, String name) {
        if (array != null && java.lang.reflect.Array.getLength(array) != items) {
            throw malformed("output '" + name + "' has " + java.lang.reflect.Array.getLength(array)
                    + " values for " + items + " items");
        }
    }

    private static float[] softmaxRows(float[] logits, int items) {
        int classes = checkedRows(logits.length, items, "logits");
        float[] result = new float[logits.length];
        for (int n = 0; n < items; n++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                max = Math.max(max, logits[n * classes + k]);
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) {
                sum += Math.exp(logits[n * classes + k] - max);
            }
            for (int k = 0; k < classes; k++) {
                result[n * classes + k] = (float) (Math.exp(logits[n * classes + k] - max) / sum);
            }
        }
        return result;
    }

    private static int argmax(float[] row) {
        int best = 0;
        for (int k = 1; k < row.length; k++) {
            if (row[k] > row[best]) {
                best = k;
            }
        }
        return best;
    }

    private static GuardClientException malformed(String why) {
        return new GuardClientException(Status.Code.INTERNAL, "malformed inference response: " + why, null);
    }
}
