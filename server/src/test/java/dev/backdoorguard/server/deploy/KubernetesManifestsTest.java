package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Structural validation of deploy/k8s without a cluster (CI has no kubectl of a useful version, kind or Docker):
 * every document parses with a known kind and apiVersion; kustomizations reference what exists; ports, probes,
 * labels and selectors agree across the Deployment, Services, HPA, PDB and ServiceMonitor; the security context
 * is locked down; and the Indexed purification Job matches its work list.
 */
class KubernetesManifestsTest {
    private static final Path K8S = DeployTree.deploy().resolve("k8s");
    private static final int GRPC_PORT = 8500;
    private static final int METRICS_PORT = 9464;
    private static final String IMAGE = "backdoorguard/guard";
    private static final Map<String, String> API_VERSIONS = Map.ofEntries(
            Map.entry("Deployment", "apps/v1"),
            Map.entry("Service", "v1"),
            Map.entry("ServiceAccount", "v1"),
            Map.entry("ConfigMap", "v1"),
            Map.entry("PersistentVolumeClaim", "v1"),
            Map.entry("HorizontalPodAutoscaler", "autoscaling/v2"),
            Map.entry("PodDisruptionBudget", "policy/v1"),
            Map.entry("Job", "batch/v1"),
            Map.entry("ServiceMonitor", "monitoring.coreos.com/v1"),
            Map.entry("PrometheusRule", "monitoring.coreos.com/v1"),
            Map.entry("Kustomization", "kustomize.config.k8s.io/v1beta1"));

    @Test
    void everyDocumentHasAKnownKindApiVersionAndName() {
        List<Path> files = DeployTree.files(K8S, ".yaml", ".yml");
        assertThat(files).hasSizeGreaterThan(10);
        for (Path file : files) {
            List<JsonNode> docs = DeployTree.yamlDocuments(file);
            assertThat(docs).as(file.toString()).isNotEmpty();
            for (JsonNode doc : docs) {
                String kind = doc.path("kind").asText();
                assertThat(API_VERSIONS).as(file + ": kind").containsKey(kind);
                assertThat(doc.path("apiVersion").asText()).as(file + ": apiVersion of " + kind)
                        .isEqualTo(API_VERSIONS.get(kind));
                if (!"Kustomization".equals(kind)) {
                    assertThat(doc.path("metadata").path("name").asText()).as(file + ": metadata.name").isNotBlank();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/cpu", "overlays/gpu", "monitoring", "purify"})
    void kustomizationReferencesExistAndPatchesHitTheirTargets(String name) {
        Kustomization k = Kustomization.load(K8S.resolve(name));
        assertThat(k.resources()).as(name + " resources").isNotEmpty();
        for (JsonNode patch : k.spec().path("patches")) {
            Path file = k.dir().resolve(patch.path("path").asText());
            assertThat(file).as(name + ": patch file").isRegularFile();
            JsonNode doc = DeployTree.yaml(file);
            JsonNode target = k.find(doc.path("kind").asText(), doc.path("metadata").path("name").asText());
            // A strategic-merge patch merges containers by name: a misspelt name would ADD a container.
            Set<String> containers = new HashSet<>();
            containersOf(target).forEach(c -> containers.add(c.path("name").asText()));
            for (JsonNode c : containersOf(doc)) {
                assertThat(containers).as(file + ": patched container").contains(c.path("name").asText());
            }
        }
        for (JsonNode image : k.spec().path("images")) {
            List<String> images = new ArrayList<>();
            k.resources().forEach(r -> containersOf(r).forEach(c -> images.add(imageName(c))));
            assertThat(images).as(name + ": images[].name is used by a container").contains(image.path("name").asText());
        }
        List<String> generated = k.generatedConfigMaps();
        for (JsonNode generator : k.spec().path("configMapGenerator")) {
            if ("merge".equals(generator.path("behavior").asText())) {
                assertThat(generated.stream().filter(generator.path("name").asText()::equals).count())
                        .as(name + ": merge into a generator of the base").isEqualTo(2);
            }
        }
    }

    @Test
    void deploymentPortsProbesAndEnvironmentAgree() {
        Kustomization base = Kustomization.load(K8S.resolve("base"));
        JsonNode container = onlyContainer(base.find("Deployment", "guard"));

        Map<String, Integer> ports = containerPorts(container);
        assertThat(ports).containsEntry("grpc", GRPC_PORT).containsEntry("metrics", METRICS_PORT);
        for (String probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
            JsonNode grpc = container.path(probe).path("grpc");
            assertThat(grpc.path("port").asInt()).as(probe + " grpc.port").isEqualTo(GRPC_PORT);
            assertThat(grpc.path("service").isTextual()).as(probe + " names the health service").isTrue();
        }
        Map<String, String> env = env(container);
        assertThat(env).containsEntry("GUARD_PORT", String.valueOf(GRPC_PORT))
                .containsEntry("GUARD_METRICS_PORT", String.valueOf(METRICS_PORT));
        assertThat(imageName(container)).isEqualTo(IMAGE);
        for (String kind : List.of("requests", "limits")) {
            assertThat(container.path("resources").path(kind).has("cpu")).as(kind + ".cpu").isTrue();
            assertThat(container.path("resources").path(kind).has("memory")).as(kind + ".memory").isTrue();
        }
        for (JsonNode ref : container.path("envFrom")) {
            assertThat(base.generatedConfigMaps()).contains(ref.path("configMapRef").path("name").asText());
        }
    }

    @Test
    void podsRunLockedDown() {
        Kustomization base = Kustomization.load(K8S.resolve("base"));
        Kustomization purify = Kustomization.load(K8S.resolve("purify"));
        for (JsonNode workload : List.of(base.find("Deployment", "guard"), purify.find("Job", "guard-purify"))) {
            String name = workload.path("metadata").path("name").asText();
            JsonNode pod = workload.path("spec").path("template").path("spec");
            assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).as(name).isTrue();
            assertThat(pod.path("securityContext").path("runAsUser").asInt()).as(name).isEqualTo(dockerfileUid());
            assertThat(pod.path("automountServiceAccountToken").asBoolean(true)).as(name).isFalse();
            for (JsonNode container : pod.path("containers")) {
                JsonNode sc = container.path("securityContext");
                assertThat(sc.path("readOnlyRootFilesystem").asBoolean()).as(name).isTrue();
                assertThat(sc.path("allowPrivilegeEscalation").asBoolean(true)).as(name).isFalse();
                assertThat(sc.path("capabilities").path("drop").toString()).as(name).contains("\"ALL\"");
                assertThat(imageName(container)).as(name).isEqualTo(IMAGE);
                assertMountsHaveVolumes(pod, container, name);
            }
        }
    }

    @Test
    void servicesSelectTheServerPodsAndTheHeadlessOneCarriesOnlyGrpc() {
        Kustomization base = Kustomization.load(K8S.resolve("base"));
        JsonNode deployment = base.find("Deployment", "guard");
        Map<String, String> podLabels = labels(deployment.path("spec").path("template").path("metadata").path("labels"));
        assertThat(podLabels).containsAllEntriesOf(labels(deployment.path("spec").path("selector").path("matchLabels")));
        Map<String, Integer> ports = containerPorts(onlyContainer(deployment));

        JsonNode service = base.find("Service", "guard");
        JsonNode headless = base.find("Service", "guard-headless");
        for (JsonNode svc : List.of(service, headless)) {
            assertThat(podLabels).as("selector of " + svc.path("metadata").path("name"))
                    .containsAllEntriesOf(labels(svc.path("spec").path("selector")));
            for (JsonNode port : svc.path("spec").path("ports")) {
                String target = port.path("targetPort").asText();
                assertThat(ports).as("targetPort " + target).containsKey(target);
                assertThat(port.path("port").asInt()).isEqualTo(ports.get(target));
            }
        }
        assertThat(headless.path("spec").path("clusterIP").asText()).isEqualTo("None");
        assertThat(portNames(headless)).containsExactly("grpc");
        assertThat(portNames(service)).containsExactlyInAnyOrder("grpc", "metrics");
        assertThat(service.path("spec").path("clusterIP").asText("")).isNotEqualTo("None");
    }

    @Test
    void autoscalerAndDisruptionBudgetTargetTheDeployment() {
        Kustomization base = Kustomization.load(K8S.resolve("base"));
        JsonNode deployment = base.find("Deployment", "guard");
        Map<String, String> podLabels = labels(deployment.path("spec").path("template").path("metadata").path("labels"));

        JsonNode hpa = base.find("HorizontalPodAutoscaler", "guard").path("spec");
        assertThat(hpa.path("scaleTargetRef").path("kind").asText()).isEqualTo("Deployment");
        assertThat(hpa.path("scaleTargetRef").path("apiVersion").asText()).isEqualTo("apps/v1");
        assertThat(hpa.path("scaleTargetRef").path("name").asText()).isEqualTo("guard");
        assertThat(hpa.path("minReplicas").asInt()).isBetween(1, hpa.path("maxReplicas").asInt());

        JsonNode pdb = base.find("PodDisruptionBudget", "guard").path("spec");
        assertThat(podLabels).containsAllEntriesOf(labels(pdb.path("selector").path("matchLabels")));
        // A drain must leave at least one replica serving.
        assertThat(pdb.path("maxUnavailable").asInt()).isBetween(1, hpa.path("minReplicas").asInt() - 1);
        assertThat(deployment.path("spec").has("replicas")).as("replicas belong to the HPA").isFalse();

        String claim = deployment.path("spec").path("template").path("spec").path("volumes").findValue("claimName").asText();
        base.find("PersistentVolumeClaim", claim);
    }

    @Test
    void serviceMonitorScrapesTheMetricsPortOfExactlyOneService() {
        Kustomization base = Kustomization.load(K8S.resolve("base"));
        JsonNode monitor = Kustomization.load(K8S.resolve("monitoring")).find("ServiceMonitor", "guard");
        Map<String, String> selector = labels(monitor.path("spec").path("selector").path("matchLabels"));
        String port = monitor.path("spec").path("endpoints").get(0).path("port").asText();

        List<String> scraped = new ArrayList<>();
        for (JsonNode svc : base.all("Service")) {
            if (labels(svc.path("metadata").path("labels")).entrySet().containsAll(selector.entrySet())
                    && portNames(svc).contains(port)) {
                scraped.add(svc.path("metadata").path("name").asText());
            }
        }

        // The Operator names the job after the Service: the rules and prometheus.yml expect job="guard".
        assertThat(scraped).containsExactly("guard");
        assertThat(port).isEqualTo("metrics");
        assertThat(monitor.path("spec").path("endpoints").get(0).path("path").asText()).isEqualTo("/metrics");
    }

    @Test
    void gpuOverlayAsksForOneGpu() {
        Kustomization gpu = Kustomization.load(K8S.resolve("overlays/gpu"));
        JsonNode patch = null;
        for (JsonNode p : gpu.spec().path("patches")) {
            JsonNode doc = DeployTree.yaml(gpu.dir().resolve(p.path("path").asText()));
            if ("Deployment".equals(doc.path("kind").asText())) {
                patch = doc;
            }
        }

        assertThat(patch).isNotNull();
        assertThat(onlyContainer(patch).path("resources").path("limits").path("nvidia.com/gpu").asInt()).isEqualTo(1);
        assertThat(gpu.spec().path("images").get(0).path("newTag").asText()).endsWith("-gpu");
    }

    @Test
    void purificationJobIsIndexedWithOneCompletionPerPlanEntry() {
        Kustomization purify = Kustomization.load(K8S.resolve("purify"));
        JsonNode job = purify.find("Job", "guard-purify").path("spec");
        JsonNode plan = purify.find("ConfigMap", "guard-purify-plan").path("data");
        long entries = plan.path("plan.txt").asText().lines()
                .map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .peek(l -> assertThat(l.split("\\s+")).as("plan entry: " + l).hasSizeGreaterThanOrEqualTo(4))
                .count();

        assertThat(job.path("completionMode").asText()).isEqualTo("Indexed");
        assertThat(job.path("completions").asLong()).as("completions = plan entries").isEqualTo(entries);
        assertThat(job.path("parallelism").asInt()).isBetween(1, (int) entries);
        JsonNode pod = job.path("template").path("spec");
        assertThat(pod.path("restartPolicy").asText()).as("needed by podFailurePolicy").isEqualTo("Never");
        JsonNode container = onlyContainer(purify.find("Job", "guard-purify"));
        for (JsonNode rule : job.path("podFailurePolicy").path("rules")) {
            if (rule.has("onExitCodes")) {
                assertThat(rule.path("onExitCodes").path("containerName").asText()).isEqualTo(container.path("name").asText());
            }
        }
        String script = container.path("command").get(container.path("command").size() - 1).asText();
        String mount = null;
        for (JsonNode m : container.path("volumeMounts")) {
            if (script.startsWith(m.path("mountPath").asText() + "/")) {
                mount = m.path("name").asText();
                assertThat(plan.has(script.substring(m.path("mountPath").asText().length() + 1))).as(script).isTrue();
            }
        }
        assertThat(mount).as("the command's script comes from a mounted volume").isNotNull();
        JsonNode configMap = pod.path("volumes").findValue("configMap");
        assertThat(configMap).as("a configMap volume").isNotNull();
        assertThat(configMap.path("name").asText()).isEqualTo("guard-purify-plan");
        assertThat(plan.path("run.sh").asText()).contains("JOB_COMPLETION_INDEX").contains("guard purify");
        String claim = pod.path("volumes").findValue("claimName").asText();
        Kustomization.load(K8S.resolve("base")).find("PersistentVolumeClaim", claim);
    }

    private static void assertMountsHaveVolumes(JsonNode pod, JsonNode container, String workload) {
        Set<String> volumes = new HashSet<>();
        pod.path("volumes").forEach(v -> volumes.add(v.path("name").asText()));
        for (JsonNode mount : container.path("volumeMounts")) {
            assertThat(volumes).as(workload + ": volume of mount " + mount.path("mountPath")).contains(mount.path("name").asText());
        }
    }

    /** The USER of deploy/docker/Dockerfile, which the pods must run as. */
    static int dockerfileUid() {
        try (Stream<String> lines = Files.lines(DeployTree.deploy().resolve("docker/Dockerfile"))) {
            return lines.filter(l -> l.startsWith("USER "))
                    .map(l -> l.substring(5).strip().split(":")[0])
                    .mapToInt(Integer::parseInt)
                    .reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("Dockerfile has no numeric USER"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<JsonNode> containersOf(JsonNode resource) {
        JsonNode spec = resource.path("spec");
        JsonNode pod = "CronJob".equals(resource.path("kind").asText())
                ? spec.path("jobTemplate").path("spec").path("template").path("spec")
                : spec.path("template").path("spec");
        List<JsonNode> containers = new ArrayList<>();
        pod.path("containers").forEach(containers::add);
        pod.path("initContainers").forEach(containers::add);
        return containers;
    }

    private static JsonNode onlyContainer(JsonNode workload) {
        List<JsonNode> containers = containersOf(workload);
        assertThat(containers).hasSize(1);
        return containers.get(0);
    }

    private static String imageName(JsonNode container) {
        String image = container.path("image").asText();
        int colon = image.lastIndexOf(':');
        return colon > image.lastIndexOf('/') ? image.substring(0, colon) : image;
    }

    private static Map<String, Integer> containerPorts(JsonNode container) {
        Map<String, Integer> ports = new HashMap<>();
        container.path("ports").forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
        return ports;
    }

    private static Map<String, String> env(JsonNode container) {
        Map<String, String> env = new HashMap<>();
        container.path("env").forEach(e -> env.put(e.path("name").asText(), e.path("value").asText()));
        return env;
    }

    private static Map<String, String> labels(JsonNode node) {
        Map<String, String> labels = new HashMap<>();
        node.fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
        return labels;
    }

    private static List<String> portNames(JsonNode service) {
        List<String> names = new ArrayList<>();
        service.path("spec").path("ports").forEach(p -> names.add(p.path("name").asText()));
        return names;
    }
}
