package dev.backdoorguard.client.cli;

import dev.backdoorguard.client.ClientConfig;
import dev.backdoorguard.client.GuardClient;
import dev.backdoorguard.client.GuardClientException;
import dev.backdoorguard.client.HealthStatus;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
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
     * Refuses a port something already listens on (binding it is the test: on Linux a wildcard bind conflicts with
     * a listener on any address). Checked before the child starts: it would fail to bind and exit, while the other
     * server went on answering health checks on that port.
     */
    static void requireFree(int port, String option) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(option + " must be a port in 1..65535 (or 0 for a free one), got "
                    + port);
        }
        try (ServerSocket socket = new ServerSocket(port)) {
            socket.getLocalPort();
        } catch (BindException e) {
            // "Address already in use" or "Permission denied" (a privileged port): the JDK's words say which.
            throw new IllegalArgumentException(option + " " + port + ": cannot listen there (" + e.getMessage()
                    + "); pass another port, or leave " + option + " out for a free one");
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + port + ": cannot listen there (" + e.getMessage() + ")");
        }
    }

    /**
     * Polls grpc.health.v1 until SERVING on {@code port}, counting that answer only once the child's log says it
     * listens there (guard serve prints "gRPC on port N" when it has bound the port): another process on the port
     * must not pass for the child. Fails if the process exits or the timeout passes. Each poll uses a fresh
     * channel: a channel that saw refused connections backs off its reconnects (up to minutes), which would delay
     * noticing a server that became ready.
     */
    void awaitServing(ClientConfig config, int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String ready = "gRPC on port " + port;
        boolean answered = false;
        while (true) {
            if (!process.isAlive()) {
                throw new ServerProcessException("the server exited with code " + process.exitValue()
                        + " before it was ready on port " + port + "; " + logPointer());
            }
            try (GuardClient client = GuardClient.connect(config.withMaxAttempts(1)
                    .withDeadline(Duration.ofSeconds(5)))) {
                answered = client.health("") == HealthStatus.SERVING;
                if (answered && logContains(ready)) {
                    return;
                }
            } catch (GuardClientException e) {
                // not listening yet: keep polling
            }
            if (System.nanoTime() > deadline) {
                throw new ServerProcessException(answered
                        ? "something answers on port " + port + ", but the server started here has not said '"
                                + ready + "' after " + timeout.toSeconds() + " s; " + logPointer()
                        : "the server was not SERVING on port " + port + " after " + timeout.toSeconds() + " s; "
                                + logPointer());
            }
            Thread.sleep(250);
        }
    }

    /** Where to look for the reason, for an error message: the log, unless the child wrote nothing. */
    String logPointer() {
        return logIsEmpty() ? "it wrote no output" : "see its log " + log;
    }

    boolean logIsEmpty() {
        try {
            return Files.size(log) == 0;
        } catch (IOException e) {
            return false; // unreadable now: name it anyway
        }
    }

    private boolean logContains(String text) {
        try {
            return Files.readString(log, StandardCharsets.ISO_8859_1).contains(text);
        } catch (IOException e) {
            return false;
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
