package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** bin/guard's own answers (the ones that need no build): usage with no arguments, --help, help. */
class LauncherTest {
    @Test
    void withoutArgumentsOrWithHelpTheLauncherPrintsItsUsageAndExitsZero() throws Exception {
        for (List<String> args : List.of(List.<String>of(), List.of("--help"), List.of("help"))) {
            Run run = run(args);
            assertThat(run.exitCode).as("bin/guard %s: %s", args, run.output).isZero();
            assertThat(run.output).as("bin/guard %s", args).startsWith("Usage: guard <command> [options]")
                    .contains("serve", "purify", "bench");
        }
    }

    private record Run(int exitCode, String output) {}

    private static Run run(List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(DeployTree.root().resolve("bin/guard").toString()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        // The usage is a few hundred bytes (well under a pipe's buffer), so waiting before reading cannot block,
        // and a hung launcher fails the test instead of hanging it.
        boolean ended = p.waitFor(30, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        assertThat(ended).as("bin/guard %s ended within 30 s", args).isTrue();
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
