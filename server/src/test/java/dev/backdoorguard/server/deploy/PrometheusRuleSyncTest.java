package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The Operator's PrometheusRule (deploy/k8s/monitoring/prometheusrule.yaml) is generated from the one rule file
 * (deploy/prometheus/rules/guard-alerts.yml) and must not drift from it.
 */
class PrometheusRuleSyncTest {
    private static final Path RULE_FILE = DeployTree.deploy().resolve("prometheus/rules/guard-alerts.yml");
    private static final Path CRD = DeployTree.deploy().resolve("k8s/monitoring/prometheusrule.yaml");

    @Test
    void prometheusRuleSpecIsTheRuleFile() {
        JsonNode crd = DeployTree.yaml(CRD);

        assertThat(crd.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
        assertThat(crd.path("kind").asText()).isEqualTo("PrometheusRule");
        assertThat(crd.path("spec"))
                .as("%s is out of date: run deploy/k8s/monitoring/generate-prometheusrule.sh", CRD)
                .isEqualTo(DeployTree.yaml(RULE_FILE));
    }

    @Test
    void theMonitoringKustomizationIncludesIt() {
        Kustomization monitoring = Kustomization.load(CRD.getParent());

        assertThat(monitoring.find("PrometheusRule", "guard").path("spec").path("groups")).isNotEmpty();
    }
}
