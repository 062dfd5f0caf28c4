package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.HealthStatus;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The demo's server: a child process with its output in a log file, stopped with SIGTERM (then killed). */
final class ServerProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private ServerProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    static ServerProcess start(List<String> command, Path log) throws IOException {
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        return new ServerProcess(process, log);
    }

    /** A loopback port that was free a moment ago (the child binds it right after). */
    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /**
     * Polls grpc.health.v1 until SERVING; fails if the process exits or the timeout passes. Each poll uses a fresh
     * channel: a channel that saw refused connections backs off its reconnects (up to minutes), which would delay
     * noticing a server that became ready.
     */
    void awaitServing(ClientConfig config, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new ServerProcessException("the server exited with code " + process.exitValue()
                        + " before it was ready; last log lines:\n" + tail(12));
            }
            try (GuardClient client = GuardClient.connect(config.withMaxAttempts(1)
                    .withDeadline(Duration.ofSeconds(5)))) {
                if (client.health("") == HealthStatus.SERVING) {
                    return;
                }
            } catch (GuardClientException e) {
                // not listening yet: keep polling
            }
            if (System.nanoTime() > deadline) {
                throw new ServerProcessException("the server was not SERVING after " + timeout.toSeconds()
                        + " s; last log lines:\n" + tail(12));
            }
            Thread.sleep(250);
        }
    }

    long pid() {
        return process.pid();
    }

    Path log() {
        return log;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String tail(int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /** SIGTERM, so the server drains and exits cleanly; SIGKILL if it has not exited after 30 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
