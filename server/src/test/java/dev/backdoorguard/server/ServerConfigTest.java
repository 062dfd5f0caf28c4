package dev.backdoorguard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.guard.InvalidInputException;
import dev.backdoorguard.server.repository.ModelLoader;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.repository.RecordingGuard;
import dev.backdoorguard.server.repository.RepositoryListener;
import dev.backdoorguard.server.rpc.GuardMode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ServerConfigTest {
    @TempDir
    Path home;

    @Test
    void defaultsServeTheDemoRepositoryOnTheStandardPorts() throws Exception {
        Files.createDirectories(home.resolve("demo/models"));
        ServerConfig c = ServerConfig.from(Map.of(), home);
        assertThat(c.port()).isEqualTo(8500);
        assertThat(c.metricsPort()).isEqualTo(9464);
        assertThat(c.modelRepository()).isEqualTo(home.resolve("demo/models"));
        assertThat(c.guardMode()).isEqualTo(GuardMode.FLAG);
        assertThat(c.maxBatchDelay()).isEqualTo(Duration.ZERO);
        assertThat(c.tls()).isFalse();
        assertThat(c.token()).isNull();
        assertThat(c.healthPort()).isEqualTo(-1);
        assertThat(c.bindAddress()).isEqualTo("0.0.0.0");
    }

    @Test
    void environmentVariablesSetEverything() {
        ServerConfig c = ServerConfig.from(Map.ofEntries(
                Map.entry("GUARD_MODEL", "/b"), Map.entry("GUARD_MODEL_NAME", "fm"), Map.entry("GUARD_PORT", "0"),
                Map.entry("GUARD_METRICS_PORT", "-1"), Map.entry("GUARD_WORKERS", "3"),
                Map.entry("GUARD_MAX_BATCH", "5"), Map.entry("GUARD_MAX_BATCH_DELAY_MS", "7"),
                Map.entry("GUARD_QUEUE_CAPACITY", "9"), Map.entry("GUARD_MAX_ITEMS", "11"),
                Map.entry("GUARD_MAX_MESSAGE_BYTES", "1000"), Map.entry("GUARD_DRAIN_SECONDS", "4"),
                Map.entry("GUARD_MODE", "block"), Map.entry("GUARD_TOKEN", "t"),
                Map.entry("GUARD_TORCH_THREADS", "2"), Map.entry("GUARD_TORCH_INTEROP_THREADS", "2"),
                Map.entry("GUARD_HEALTH_PORT", "0"), Map.entry("GUARD_BIND_ADDRESS", "127.0.0.1")), home);
        assertThat(c).isEqualTo(new ServerConfig(0, -1, null, Path.of("/b"), "fm", 3, 5, Duration.ofMillis(7), 9, 11,
                1000, Duration.ofSeconds(4), GuardMode.BLOCK, null, null, null, "t", 2, 2, 0, Duration.ZERO,
                "127.0.0.1"));
        assertThat(c.effectiveTorchThreads()).isEqualTo(2);
    }

    @Test
    void badSettingsAreNamed() {
        assertThatThrownBy(() -> ServerConfig.from(Map.of(), home))
                .hasMessageContaining("demo repository").hasMessageContaining("does not exist");
        Map<String, String> model = Map.of("GUARD_MODEL", "/b");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_PORT", "x"), home))
                .hasMessageContaining("GUARD_PORT").hasMessageContaining("'x'");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_PORT", "70000"), home))
                .hasMessageContaining("GUARD_PORT out of range");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_MODE", "loud"), home))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("off|flag|block");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_TLS_CERT", "/c"), home))
                .hasMessageContaining("--tls-key");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_MODEL_REPOSITORY", "/r"), home))
                .hasMessageContaining("not both");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_WORKERS", "0"), home))
                .hasMessage("GUARD_WORKERS must be >= 1, got 0");
    }

    @Test
    void aBlankTokenNeverLeavesTheRepositoryRpcsSilentlyOpen() throws Exception {
        Map<String, String> model = Map.of("GUARD_MODEL", "/b");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_TOKEN", " "), home))
                .hasMessageContaining("token is blank").hasMessageContaining("unset GUARD_TOKEN");
        Path empty = Files.writeString(home.resolve("token"), "\n");
        assertThatThrownBy(() -> ServerMain.readToken(empty))
                .hasMessageContaining("--token-file " + empty + " is empty");
        assertThatThrownBy(() -> ServerMain.readToken(home.resolve("absent")))
                .hasMessageContaining("--token-file").hasMessageContaining("no such file");
        Path token = Files.writeString(home.resolve("token2"), "s3cret\n");
        assertThat(ServerMain.readToken(token)).isEqualTo("s3cret");
    }

    @Test
    void badValuesFromTheEnvironmentNameTheirVariable() {
        Map<String, String> model = Map.of("GUARD_MODEL", "/b");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_WORKERS", "two"), home))
                .hasMessage("GUARD_WORKERS: expected an integer, got 'two'");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_MAX_BATCH_DELAY_MS", "-1"), home))
                .hasMessageContaining("GUARD_MAX_BATCH_DELAY_MS must not be negative");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_MAX_BATCH_DELAY_MS", "2000"), home))
                .hasMessageContaining("GUARD_MAX_BATCH_DELAY_MS must be at most 1000").hasMessageContaining("got 2000");
        assertThat(ServerConfig.from(with(model, "GUARD_MAX_BATCH_DELAY_MS", "1000"), home).batcher().maxDelay())
                .hasSeconds(1);
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_DRAIN_SECONDS", "-3"), home))
                .hasMessageContaining("GUARD_DRAIN_SECONDS must not be negative");
        Map<String, String> tls = with(with(model, "GUARD_TLS_CERT", home.resolve("cert.pem").toString()),
                "GUARD_TLS_KEY", home.resolve("key.pem").toString());
        assertThatThrownBy(() -> ServerConfig.from(tls, home))
                .hasMessage("GUARD_TLS_CERT " + home.resolve("cert.pem") + ": no such file");
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_BIND_ADDRESS", "::zz"), home))
                .hasMessage("GUARD_BIND_ADDRESS ::zz: unknown host"); // an invalid IPv6 literal: refused without a DNS query
        assertThatThrownBy(() -> ServerConfig.from(with(model, "GUARD_BIND_ADDRESS", "198.51.100.77"), home))
                .hasMessage("GUARD_BIND_ADDRESS 198.51.100.77 is not an address of this machine");
        assertThat(ServerConfig.from(with(model, "GUARD_BIND_ADDRESS", "::1"), home).urlHost()).isEqualTo("[::1]");
    }

    @Test
    void aBadValueIsQuotedAsWrittenEvenWhenItLooksLikeAFlag() {
        Map<String, String> env = Map.of("GUARD_MODEL", "/b", "GUARD_PORT", "0", "GUARD_WORKERS", "--port");
        assertThatThrownBy(() -> ServerConfig.from(env, home))
                .hasMessage("GUARD_WORKERS: expected an integer, got '--port'");
        Path cert = home.resolve("--port.pem");
        Map<String, String> tls = with(with(with(env, "GUARD_WORKERS", "2"), "GUARD_TLS_CERT", cert.toString()),
                "GUARD_TLS_KEY", home.resolve("key.pem").toString());
        assertThatThrownBy(() -> ServerConfig.from(tls, home)).hasMessage("GUARD_TLS_CERT " + cert + ": no such file");
    }

    @Test
    void aFlagOfEitherHalfOfWhatToServeWinsOverTheEnvironmentsOtherHalf() {
        Map<String, String> container = Map.of("GUARD_MODEL_REPOSITORY", "/models", "GUARD_WATCH_INTERVAL_MS", "500");
        ServerConfig model = ServerConfig.from(new Settings(container, Map.of("GUARD_MODEL", "/b")), home);
        assertThat(model.model()).isEqualTo(Path.of("/b"));
        assertThat(model.modelRepository()).isNull();
        assertThat(model.watchInterval()).isZero();

        Map<String, String> oneBundle = Map.of("GUARD_MODEL", "/b", "GUARD_MODEL_NAME", "fm");
        ServerConfig repository = ServerConfig.from(
                new Settings(oneBundle, Map.of("GUARD_MODEL_REPOSITORY", "/models")), home);
        assertThat(repository.modelRepository()).isEqualTo(Path.of("/models"));
        assertThat(repository.model()).isNull();
        assertThat(repository.modelName()).isNull();

        assertThatThrownBy(() -> ServerConfig.from(new Settings(Map.of(),
                Map.of("GUARD_MODEL", "/b", "GUARD_MODEL_REPOSITORY", "/models")), home))
                .hasMessage("give either a model (--model) or a model repository (--model-repository), not both");
        assertThatThrownBy(() -> ServerConfig.from(
                Settings.environment(Map.of("GUARD_MODEL", "/b", "GUARD_MODEL_REPOSITORY", "/models")), home))
                .hasMessage("give either a model (GUARD_MODEL) or a model repository (GUARD_MODEL_REPOSITORY),"
                        + " not both");
    }

    @Test
    void badValuesFromFlagsNameTheFlagFirstAndAFlagWinsOverItsVariable() {
        Map<String, String> env = Map.of("GUARD_MODEL", "/b", "GUARD_WORKERS", "0", "GUARD_MODE", "loud");
        assertThatThrownBy(() -> ServerConfig.from(new Settings(env, Map.of("GUARD_MODE", "bogus")), home))
                .hasMessage("--guard-mode: expected off|flag|block, got 'bogus'");
        assertThatThrownBy(() -> ServerConfig.from(new Settings(env, Map.of("GUARD_MODE", "off")), home))
                .hasMessage("GUARD_WORKERS must be >= 1, got 0");
        assertThatThrownBy(() -> ServerConfig.from(Settings.environment(env), home))
                .hasMessage("GUARD_MODE: expected off|flag|block, got 'loud'");
        Map<String, String> flags = Map.of("GUARD_MODE", "off", "GUARD_WORKERS", "-2", "GUARD_PORT", "x");
        assertThatThrownBy(() -> ServerConfig.from(new Settings(env, flags), home))
                .hasMessage("--port: expected an integer, got 'x'");
        assertThatThrownBy(() -> ServerConfig.from(new Settings(env, with(flags, "GUARD_PORT", "0")), home))
                .hasMessage("--workers must be >= 1, got -2");
        assertThat(ServerConfig.from(new Settings(env, Map.of("GUARD_MODE", "off", "GUARD_WORKERS", "3")), home)
                .workers()).isEqualTo(3);
    }

    @Test
    void theStartLineMarksEveryModelServedWithoutADetector() throws Exception {
        Files.createDirectories(home.resolve("guarded/1"));
        Files.createDirectories(home.resolve("plain/1"));
        ModelLoader loader = dir -> dir.getParent().getFileName().toString().equals("guarded")
                ? new TestServers.FlaggingGuard(new RecordingGuard(dir), Duration.ZERO)
                : new RecordingGuard(dir);
        try (ModelRepository models = ModelRepository.ofDirectory(home, loader, RepositoryListener.none())) {
            models.loadAll();
            assertThat(ServerMain.modelList(models)).isEqualTo("[guarded, plain (unguarded: no detector)]");
        }
    }

    @Test
    void aPortThatCannotBeBoundIsNamedByItsSource() throws Exception {
        Files.createDirectories(home.resolve("m/1"));
        ModelLoader loader = RecordingGuard::new;  // engine-free: the models load before the ports are bound
        Map<String, String> env = Map.of("GUARD_MODEL_REPOSITORY", home.toString(), "GUARD_BIND_ADDRESS", "127.0.0.1",
                "GUARD_PORT", "0", "GUARD_METRICS_PORT", "-1");
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String port = Integer.toString(busy.getLocalPort());
            Settings fromVariable = Settings.environment(with(env, "GUARD_PORT", port));
            assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(fromVariable, home), fromVariable, loader))
                    .isInstanceOf(IOException.class)
                    .hasMessageStartingWith("GUARD_PORT " + port + ": cannot listen there (");
            Settings fromFlag = new Settings(env, Map.of("GUARD_PORT", port));
            assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(fromFlag, home), fromFlag, loader))
                    .hasMessageStartingWith("--port " + port + ": cannot listen there (");

            Settings metricsFromVariable = Settings.environment(with(env, "GUARD_METRICS_PORT", port));
            assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(metricsFromVariable, home),
                    metricsFromVariable, loader))
                    .hasMessageStartingWith("GUARD_METRICS_PORT " + port + ": cannot listen there (");
            Settings metricsFromFlag = new Settings(env, Map.of("GUARD_METRICS_PORT", port));
            assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(metricsFromFlag, home), metricsFromFlag,
                    loader))
                    .hasMessageStartingWith("--metrics-port " + port + ": cannot listen there (");

            Settings healthFromVariable = Settings.environment(with(env, "GUARD_HEALTH_PORT", port));
            assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(healthFromVariable, home),
                    healthFromVariable, loader))
                    .hasMessageStartingWith("GUARD_HEALTH_PORT " + port + ": cannot listen there (");
        }
    }

    @Test
    void tlsFilesWhoseContentIsRefusedAreNamedByTheirSource() throws Exception {
        Path cert = Files.writeString(home.resolve("cert.pem"), "not a certificate\n");
        Path key = Files.writeString(home.resolve("key.pem"), "not a key\n");
        Map<String, String> env = Map.of("GUARD_MODEL_REPOSITORY", home.toString(), "GUARD_BIND_ADDRESS", "127.0.0.1",
                "GUARD_PORT", "0", "GUARD_METRICS_PORT", "-1", "GUARD_TLS_CERT", cert.toString(),
                "GUARD_TLS_KEY", key.toString());
        Settings fromVariables = Settings.environment(env);
        assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(fromVariables, home), fromVariables,
                RecordingGuard::new))
                .hasMessageStartingWith("TLS files refused (GUARD_TLS_CERT " + cert + ", GUARD_TLS_KEY " + key + "): ");
        Settings keyFromFlag = new Settings(env, Map.of("GUARD_TLS_KEY", key.toString()));
        assertThatThrownBy(() -> ServerMain.start(ServerConfig.from(keyFromFlag, home), keyFromFlag,
                RecordingGuard::new))
                .hasMessageStartingWith("TLS files refused (GUARD_TLS_CERT " + cert + ", --tls-key " + key + "): ");
    }

    private static Map<String, String> with(Map<String, String> base, String key, String value) {
        Map<String, String> m = new java.util.HashMap<>(base);
        m.put(key, value);
        return m;
    }

    @Test
    void helpDocumentsEveryFlagWithItsEnvironmentVariable() {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new ServerMain());
        cli.setOut(new PrintWriter(out));
        assertThat(cli.execute("--help")).isZero();
        String help = out.toString();
        for (String key : ServerConfig.DEFAULTS.keySet()) {
            assertThat(help).contains(key);
        }
        assertThat(help).contains("GUARD_MODEL", "GUARD_MODEL_REPOSITORY", "GUARD_MODEL_NAME", "GUARD_TLS_CERT",
                "GUARD_TLS_KEY", "GUARD_TLS_CLIENT_CA", "GUARD_TOKEN", "--token-file", "demo/models");
        for (CommandLine.Model.OptionSpec option : cli.getCommandSpec().options()) {
            if (!option.usageHelp() && !option.versionHelp() && !option.longestName().equals("--token-file")) {
                assertThat(String.join(" ", option.description())).as(option.longestName()).contains("env GUARD_");
            }
        }
    }
}
