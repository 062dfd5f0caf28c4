package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * deploy/prometheus with the real promtool: the scrape configuration, the rule files, the rule unit tests (every
 * alert fires on synthetic series and stays silent on others), plus the alerting conventions of
 * serving-ecosystem.md §4.8 and the metric names against deploy/metrics.txt.
 */
class PrometheusRulesTest {
    private static final Path PROMETHEUS = DeployTree.deploy().resolve("prometheus");
    private static final Path RULES = PROMETHEUS.resolve("rules/guard-alerts.yml");
    private static final Set<String> REQUIRED_ALERTS = Set.of(
            "GuardTargetDown", "GuardModelNotReady", "GuardHighErrorRate", "GuardLatencyP99High",
            "GuardQueueSaturation", "GuardSuspiciousInputSpike", "GuardClassSkew", "GuardModelReloadFailed");
    /** Series Prometheus itself writes for every target; the server does not export them. */
    private static final Set<String> PROMETHEUS_SERIES = Set.of("up");
    private static final Pattern RECORD_NAME = Pattern.compile("[a-z_]+:[a-z0-9_]+:[a-z0-9_]+");
    private static final Pattern CAMEL_CASE = Pattern.compile("[A-Z][a-zA-Z0-9]*");

    @Test
    void promtoolAcceptsTheConfigurationAndItsRuleFiles() throws Exception {
        Promtool.Result result = Promtool.run(PROMETHEUS, "check", "config", "prometheus.yml");

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("SUCCESS").contains("guard-alerts.yml");
    }

    @Test
    void promtoolAcceptsEveryRuleFile() throws Exception {
        List<Path> ruleFiles = DeployTree.files(PROMETHEUS.resolve("rules"), ".yml", ".yaml");
        assertThat(ruleFiles).isNotEmpty();
        List<String> args = new ArrayList<>(List.of("check", "rules"));
        ruleFiles.forEach(f -> args.add(f.toString()));

        Promtool.Result result = Promtool.run(PROMETHEUS, args.toArray(String[]::new));

        assertThat(result.exitCode()).as(result.output()).isZero();
    }

    @Test
    void ruleUnitTestsPass() throws Exception {
        List<Path> tests = DeployTree.files(PROMETHEUS.resolve("tests"), ".yml", ".yaml");
        assertThat(tests).isNotEmpty();
        List<String> args = new ArrayList<>(List.of("test", "rules"));
        tests.forEach(f -> args.add(f.toString()));

        Promtool.Result result = Promtool.run(PROMETHEUS.resolve("tests"), args.toArray(String[]::new));

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("SUCCESS");
    }

    @Test
    void everyRequiredAlertHasAFiringAndASilentUnitTest() {
        Set<String> firing = new TreeSet<>();
        Set<String> silent = new TreeSet<>();
        for (Path file : DeployTree.files(PROMETHEUS.resolve("tests"), ".yml", ".yaml")) {
            for (JsonNode test : DeployTree.yaml(file).path("tests")) {
                for (JsonNode check : test.path("alert_rule_test")) {
                    String name = check.path("alertname").asText();
                    (check.path("exp_alerts").isEmpty() ? silent : firing).add(name);
                }
            }
        }

        assertThat(firing).as("alerts with a test that expects them to fire").containsAll(REQUIRED_ALERTS);
        assertThat(silent).as("alerts with a test that expects no alert").containsAll(REQUIRED_ALERTS);
    }

    @Test
    void alertsFollowTheConventions() throws IOException {
        String runbook = Files.readString(DeployTree.deploy().resolve("RUNBOOK.md"));
        Set<String> names = new LinkedHashSet<>();
        for (JsonNode rule : rules()) {
            if (!rule.has("alert")) {
                continue;
            }
            String name = rule.path("alert").asText();
            names.add(name);
            assertThat(name).as("alert name").matches(CAMEL_CASE);
            assertThat(rule.path("labels").path("severity").asText())
                    .as(name + " severity")
                    .isIn("critical", "warning", "info");
            JsonNode annotations = rule.path("annotations");
            for (String key : List.of("summary", "description", "runbook_url")) {
                assertThat(annotations.path(key).asText()).as(name + " annotation " + key).isNotBlank();
            }
            String url = annotations.path("runbook_url").asText();
            assertThat(url).as(name + " runbook_url").isEqualTo("deploy/RUNBOOK.md#" + name.toLowerCase());
            assertThat(runbook).as("RUNBOOK.md has a section for " + name).contains("\n## " + name + "\n");
        }
        assertThat(names).containsAll(REQUIRED_ALERTS);
    }

    @Test
    void recordingRulesAreNamedLevelMetricOperations() {
        for (JsonNode rule : rules()) {
            if (rule.has("record")) {
                assertThat(rule.path("record").asText()).matches(RECORD_NAME);
            }
        }
    }

    @Test
    void everyMetricTheRulesUseIsListedInMetricsTxt() {
        Set<String> recorded = recordedNames();
        Set<String> listed = DeployTree.metricsList();
        for (JsonNode rule : rules()) {
            for (String name : PromQl.metricNames(rule.path("expr").asText())) {
                if (name.contains(":")) {
                    assertThat(recorded).as("recording rule used in " + ruleName(rule)).contains(name);
                } else if (!PROMETHEUS_SERIES.contains(name)) {
                    assertThat(listed).as("deploy/metrics.txt lists the metric of " + ruleName(rule)).contains(name);
                }
            }
        }
    }

    @Test
    void metricsTxtListsExactlyTheNamesTheRulesAndTheDashboardUse() {
        Set<String> used = new TreeSet<>();
        for (JsonNode rule : rules()) {
            used.addAll(PromQl.metricNames(rule.path("expr").asText()));
        }
        GrafanaDashboardTest.expressions().forEach(e -> used.addAll(PromQl.metricNames(e)));
        used.removeIf(n -> n.contains(":") || PROMETHEUS_SERIES.contains(n));

        assertThat(new TreeSet<>(DeployTree.metricsList())).isEqualTo(used);
    }

    @Test
    void theLocalScrapeTargetsGuardServeOnLoopback() {
        JsonNode config = DeployTree.yaml(PROMETHEUS.resolve("prometheus.yml"));
        JsonNode job = null;
        for (JsonNode scrape : config.path("scrape_configs")) {
            if ("guard".equals(scrape.path("job_name").asText())) {
                job = scrape;
            }
        }

        assertThat(job).as("scrape job \"guard\" (the alert rules select job=\"guard\")").isNotNull();
        assertThat(job.path("static_configs").get(0).path("targets").get(0).asText()).isEqualTo("127.0.0.1:9464");
        assertThat(config.path("rule_files").get(0).asText()).isEqualTo("rules/*.yml");
    }

    static List<JsonNode> rules() {
        List<JsonNode> rules = new ArrayList<>();
        for (JsonNode group : DeployTree.yaml(RULES).path("groups")) {
            group.path("rules").forEach(rules::add);
        }
        assertThat(rules).isNotEmpty();
        return rules;
    }

    static Set<String> recordedNames() {
        Set<String> recorded = new TreeSet<>();
        for (JsonNode rule : rules()) {
            if (rule.has("record")) {
                recorded.add(rule.path("record").asText());
            }
        }
        return recorded;
    }

    private static String ruleName(JsonNode rule) {
        return rule.has("alert") ? rule.path("alert").asText() : rule.path("record").asText();
    }
}
