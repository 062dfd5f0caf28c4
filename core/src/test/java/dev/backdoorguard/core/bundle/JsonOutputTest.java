package dev.backdoorguard.core.bundle;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonOutputTest {
    @Test
    void undefinedFiguresAreWrittenAsNullNotAsTheStringNaN() throws Exception {
        ObjectNode report = JsonOutput.INDENTED.createObjectNode();
        report.put("acc", 0.25).put("asr_conditional", Double.NaN).put("ratio", Double.POSITIVE_INFINITY)
                .put("loss", Float.NaN).put("count", 3).put("label", "NaN");
        report.putArray("rates").add(0.5).add(Double.NaN);
        Map<String, Object> pojo = new LinkedHashMap<>();
        pojo.put("median", Double.NaN);
        pojo.put("curve", new double[] {1.5, Double.NaN});
        report.putPOJO("nested", pojo);

        String text = JsonOutput.INDENTED.writeValueAsString(report);
        JsonNode back = JsonOutput.INDENTED.readTree(text);

        assertThat(text).doesNotContain("Infinity");
        assertThat(back.get("acc").asDouble()).isEqualTo(0.25);
        assertThat(back.get("asr_conditional").isNull()).isTrue();
        assertThat(back.get("ratio").isNull()).isTrue();
        assertThat(back.get("loss").isNull()).isTrue();
        assertThat(back.get("count").asInt()).isEqualTo(3);
        assertThat(back.get("label").asText()).isEqualTo("NaN"); // a string stays a string
        assertThat(back.get("rates").get(0).asDouble()).isEqualTo(0.5);
        assertThat(back.get("rates").get(1).isNull()).isTrue();
        assertThat(back.at("/nested/median").isNull()).isTrue();
        assertThat(back.at("/nested/curve/0").asDouble()).isEqualTo(1.5);
        assertThat(back.at("/nested/curve/1").isNull()).isTrue();
    }
}
