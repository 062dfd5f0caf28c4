package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/grafana/dashboards/guard.json: importable (datasource as an input), templated by model, with the rows of
 * serving-ecosystem.md §4.9, and every query valid PromQL (checked by promtool) over known metric names.
 */
class GrafanaDashboardTest {
    static final Path DASHBOARD = DeployTree.deploy().resolve("grafana/dashboards/guard.json");
    private static final String DATASOURCE = "${DS_PROMETHEUS}";
    /** Grafana's built-in variables and the dashboard's own, replaced by values promtool can parse. */
    private static final Map<String, String> VARIABLES = Map.of(
            "$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$model", ".*");

    @Test
    void hasAStableUidAndTheDatasourceAsAnImportInput() {
        JsonNode dashboard = DeployTree.json(DASHBOARD);

        assertThat(dashboard.path("uid").asText()).isEqualTo("backdoor-guard");
        JsonNode input = dashboard.path("__inputs").get(0);
        assertThat(input.path("name").asText()).isEqualTo("DS_PROMETHEUS");
        assertThat(input.path("type").asText()).isEqualTo("datasource");
        assertThat(input.path("pluginId").asText()).isEqualTo("prometheus");
        for (JsonNode panel : panels(dashboard)) {
            if ("row".equals(panel.path("type").asText())) {
                continue;
            }
            String title = panel.path("title").asText();
            assertThat(panel.path("datasource").path("uid").asText()).as(title).isEqualTo(DATASOURCE);
            assertThat(panel.path("targets")).as(title + " targets").isNotEmpty();
            for (JsonNode target : panel.path("targets")) {
                assertThat(target.path("datasource").path("uid").asText()).as(title).isEqualTo(DATASOURCE);
            }
        }
    }

    @Test
    void hasAModelVariableFromLabelValues() {
        JsonNode model = null;
        for (JsonNode variable : DeployTree.json(DASHBOARD).path("templating").path("list")) {
            if ("model".equals(variable.path("name").asText())) {
                model = variable;
            }
        }

        assertThat(model).isNotNull();
        assertThat(model.path("type").asText()).isEqualTo("query");
        assertThat(model.path("query").path("query").asText()).startsWith("label_values(").contains(", model)");
        assertThat(model.path("datasource").path("uid").asText()).isEqualTo(DATASOURCE);
    }

    @Test
    void hasTheFourRowsAndAScoreHeatmap() {
        JsonNode dashboard = DeployTree.json(DASHBOARD);
        List<String> rows = new ArrayList<>();
        JsonNode heatmap = null;
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode panel : panels(dashboard)) {
            assertThat(ids.add(panel.path("id").asInt())).as("unique panel id " + panel.path("id")).isTrue();
            if ("row".equals(panel.path("type").asText())) {
                rows.add(panel.path("title").asText());
            } else if ("heatmap".equals(panel.path("type").asText())) {
                heatmap = panel;
            }
        }

        assertThat(rows).containsExactly("Overview", "Queue and batching", "Guard", "JVM");
        assertThat(heatmap).isNotNull();
        JsonNode target = heatmap.path("targets").get(0);
        assertThat(target.path("format").asText()).isEqualTo("heatmap");
        assertThat(PromQl.metricNames(target.path("expr").asText())).containsExactly("guard_detector_score_bucket");
    }

    @Test
    void everyQueryIsValidPromQl(@TempDir Path tmp) throws Exception {
        // promtool has no "check expression" command; a rule file with one recording rule per query is checked by
        // the same parser Prometheus uses.
        List<Map<String, String>> rules = new ArrayList<>();
        List<String> expressions = expressions();
        for (int i = 0; i < expressions.size(); i++) {
            Map<String, String> rule = new LinkedHashMap<>();
            rule.put("record", "dashboard:query_" + i + ":check");
            rule.put("expr", substituteVariables(expressions.get(i)));
            rules.add(rule);
        }
        Path file = tmp.resolve("dashboard-queries.yml");
        new YAMLMapper().writeValue(file.toFile(), Map.of("groups", List.of(Map.of("name", "dashboard", "rules", rules))));

        Promtool.Result result = Promtool.run(tmp, "check", "rules", file.toString());

        assertThat(result.exitCode()).as(result.output() + "\n" + Files.readString(file)).isZero();
        assertThat(result.output()).contains("SUCCESS: " + expressions.size() + " rules found");
    }

    @Test
    void everyMetricTheDashboardQueriesIsListedOrRecorded() {
        Set<String> listed = DeployTree.metricsList();
        Set<String> recorded = PrometheusRulesTest.recordedNames();
        for (String expr : expressions()) {
            for (String name : PromQl.metricNames(expr)) {
                assertThat(name.contains(":") ? recorded : listed).as("metric of query " + expr).contains(name);
            }
        }
    }

    /** Every PromQL query of the dashboard: panel targets and query variables. */
    static List<String> expressions() {
        JsonNode dashboard = DeployTree.json(DASHBOARD);
        List<String> expressions = new ArrayList<>();
        for (JsonNode panel : panels(dashboard)) {
            for (JsonNode target : panel.path("targets")) {
                expressions.add(target.path("expr").asText());
            }
        }
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            if ("query".equals(variable.path("type").asText())) {
                String query = variable.path("query").path("query").asText();
                // label_values(<selector>, <label>) is Grafana's, not PromQL: keep its selector.
                expressions.add(query.replaceFirst("^label_values\\((.*),\\s*\\w+\\)$", "$1"));
            }
        }
        assertThat(expressions).doesNotContain("");
        return expressions;
    }

    private static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> panels = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            panels.add(panel);
            panel.path("panels").forEach(panels::add); // panels inside collapsed rows
        }
        return panels;
    }

    private static String substituteVariables(String expr) {
        String out = expr;
        for (Map.Entry<String, String> v : VARIABLES.entrySet()) {
            out = out.replace(v.getKey(), v.getValue());
        }
        assertThat(out).as("unknown Grafana variable in " + expr).doesNotContain("$");
        return out;
    }
}
