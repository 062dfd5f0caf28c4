package dev.backdoorguard.core.bundle;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.JsonGeneratorDelegate;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;

/**
 * The mapper for the JSON this project writes for people and other tools (model.json, report.json, --json output).
 * JSON has no NaN or infinity, and Jackson would write them as the strings "NaN" and "Infinity", which a reader that
 * expects a number trips over; an undefined figure (a rate over no images, the median of no timings) is written as
 * null instead, whichever code built the report. Checkpoints, which must read back exactly, use a plain mapper.
 */
public final class JsonOutput {
    /** Indented, non-finite numbers written as null. */
    public static final ObjectMapper INDENTED = new ObjectMapper(JsonFactory.builder()
            .addDecorator((factory, generator) -> new FiniteNumbers(generator)).build())
            .enable(SerializationFeature.INDENT_OUTPUT);

    private JsonOutput() {}

    private static final class FiniteNumbers extends JsonGeneratorDelegate {
        FiniteNumbers(JsonGenerator delegate) {
            super(delegate, false);
        }

        @Override
        public void writeNumber(double v) throws IOException {
            if (Double.isFinite(v)) {
                super.writeNumber(v);
            } else {
                writeNull();
            }
        }

        @Override
        public void writeArray(double[] array, int offset, int length) throws IOException {
            // The delegate would write the array itself (Jackson's double[] serializer calls this), NaN included.
            writeStartArray(array, length);
            for (int i = offset; i < offset + length; i++) {
                writeNumber(array[i]);
            }
            writeEndArray();
        }

        @Override
        public void writeNumber(float v) throws IOException {
            if (Float.isFinite(v)) {
                super.writeNumber(v);
            } else {
                writeNull();
            }
        }
    }
}
