package dev.backdoorguard.server.deploy;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Debian's {@code promtool} (package {@code prometheus}). A missing binary is a test failure, not a skip:
 * CI must install it.
 */
final class Promtool {
    private static final long TIMEOUT_SECONDS = 120;

    /** Exit code and merged stdout/stderr of one run. */
    record Result(int exitCode, String output) {}

    private Promtool() {}

    static Path binary() {
        return onPath("promtool");
    }

    /** An executable of Debian's {@code prometheus} package ({@code promtool} or {@code prometheus}) on the PATH. */
    static Path onPath(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new AssertionError(name + " not found on PATH: install it with `apt-get install -y prometheus`");
    }

    static Result run(Path workingDirectory, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(binary().toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command)
                .directory(workingDirectory.toFile())
                .redirectErrorStream(true)
                .start();
        // Read before waiting: a full pipe would block promtool.
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("promtool " + String.join(" ", args) + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        return new Result(process.exitValue(), output);
    }
}
