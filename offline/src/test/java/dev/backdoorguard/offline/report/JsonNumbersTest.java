package dev.backdoorguard.offline.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class JsonNumbersTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void anUndefinedNumberIsWrittenAsNullNotAsTheStringNaN() throws Exception {
        ObjectNode node = json.createObjectNode();
        JsonNumbers.putOrNull(node, "asr_conditional", Double.NaN);
        JsonNumbers.putOrNull(node, "ratio", Double.POSITIVE_INFINITY);
        JsonNumbers.putOrNull(node, "acc", 0.25);

        assertThat(json.writeValueAsString(node)).isEqualTo("{\"asr_conditional\":null,\"ratio\":null,\"acc\":0.25}");
        ObjectNode back = (ObjectNode) json.readTree(json.writeValueAsString(node));
        assertThat(JsonNumbers.read(back, "asr_conditional")).isNaN();
        assertThat(JsonNumbers.read(back, "missing")).isNaN();
        assertThat(JsonNumbers.read(back, "acc")).isEqualTo(0.25);
    }
}
