package dev.backdoorguard.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backdoorguard.client.load.LoadProgress;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The progress line (terminal: rewritten in place; otherwise: rate-limited lines) and the JSON writer. */
class ProgressLineTest {
    private static LoadProgress at(double seconds, boolean finished) {
        return new LoadProgress("measure", seconds, 10, 10, 9, 1, 0, finished);
    }

    @Test
    void logsAreRateLimitedButTheFinalSnapshotAlwaysPrints() {
        StringWriter text = new StringWriter();
        ProgressLine line = new ProgressLine(new PrintWriter(text), false, 60_000);
        line.accept(at(1, false));
        line.accept(at(2, false)); // within the minute: suppressed
        line.accept(at(3, true));
        List<String> lines = text.toString().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("measure   1.0s/10s  sent 10  ok 9  errors 1  dropped 0");
        assertThat(lines.get(1)).contains("3.0s/10s");
        assertThat(text.toString()).doesNotContain("\r");
    }

    @Test
    void terminalRewritesOneLine() {
        StringWriter text = new StringWriter();
        ProgressLine line = new ProgressLine(new PrintWriter(text), true, 60_000);
        line.accept(at(1, false));
        line.accept(at(2, false));
        line.finish();
        assertThat(text.toString()).startsWith("\r\033[2Kmeasure").contains("\r\033[2Kmeasure   2.0s").endsWith("\n");
        assertThat(text.toString().chars().filter(c -> c == '\n').count()).isEqualTo(1); // one terminal line
    }

    @Test
    void jsonEscapesStringsAndWritesNonFiniteNumbersAsNull() {
        Map<String, Object> value = new java.util.LinkedHashMap<>();
        value.put("name", "a\"b\\c\n\u0001");
        value.put("nan", Double.NaN);
        value.put("list", List.of(1, 2.5, true));
        value.put("none", null);
        assertThat(Json.write(value))
                .isEqualTo("{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"nan\":null,\"list\":[1,2.5,true],\"none\":null}");
    }
}
