package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * deploy/docker/Dockerfile, statically (CI has no Docker engine): multi-stage, non-root, `guard serve` with DJL
 * offline, the two ports and a health check; and a .dockerignore that keeps build output out of the context.
 */
class DockerfileTest {
    private static final Path DOCKERFILE = DeployTree.deploy().resolve("docker/Dockerfile");

    @Test
    void buildsInOneStageAndRunsServeAsANonRootUserInAnother() throws IOException {
        List<String> lines = instructions();

        assertThat(lines.stream().filter(l -> l.startsWith("FROM ")).count()).isGreaterThanOrEqualTo(2);
        assertThat(lines).anyMatch(l -> l.startsWith("FROM maven:") && l.contains(" AS build"));
        String user = lines.stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElseThrow();
        assertThat(user).doesNotContain("root").doesNotEndWith(" 0");
        assertThat(KubernetesManifestsTest.dockerfileUid()).isPositive();
        assertThat(lines).anyMatch(l -> l.startsWith("ENTRYPOINT ") && l.contains("\"serve\""));
        assertThat(lines).anyMatch(l -> l.startsWith("EXPOSE ") && l.contains("8500") && l.contains("9464"));
        assertThat(lines).anyMatch(l -> l.startsWith("VOLUME ") && l.contains("/models"));
        assertThat(lines).anyMatch(l -> l.startsWith("HEALTHCHECK "));
        assertThat(String.join("\n", lines)).contains("DJL_OFFLINE=true").contains("GUARD_MODEL_REPOSITORY=/models");
        // bin/guard sources bin/native-memory.sh: the image needs both
        assertThat(lines).anyMatch(l -> l.contains("cp ") && l.contains("bin/guard") && l.contains("bin/native-memory.sh"));
    }

    @Test
    void dockerignoreKeepsBuildOutputAndGitOutOfTheContext() throws IOException {
        List<String> ignore = Files.readAllLines(DeployTree.root().resolve(".dockerignore"));

        assertThat(ignore).contains("**/target", ".git");
    }

    /** Instructions with continuation lines joined and comments dropped. */
    private static List<String> instructions() throws IOException {
        String text = Files.readString(DOCKERFILE).replaceAll("(?m)^\\s*#.*\\n", "").replace("\\\n", " ");
        return text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }
}
