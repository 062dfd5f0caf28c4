package dev.backdoorguard.server;

import dev.backdoorguard.server.batch.BatcherConfig;
import dev.backdoorguard.server.rpc.GuardMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Server settings; immutable and validated on construction. Every setting has a {@code GUARD_*}
 * environment variable; {@code guard serve} flags override them (see {@link Settings}).
 *
 * @param modelRepository a {@code <repo>/<model>/<version>/} tree, or null when {@code model} is set
 * @param model           one bundle directory to serve, or null
 * @param modelName       the name {@code model} is served under (null: its directory name)
 * @param metricsPort     the Prometheus port; 0 picks a free one, -1 disables the endpoint
 * @param maxItems        the most images one request may carry
 * @param torchThreads    PyTorch intra-op threads per inference (0: cores / workers, at least 1)
 * @param tlsClientCa     when set (with cert and key), clients must present a certificate it signed
 * @param token           when set, the repository RPCs need {@code authorization: Bearer <token>}
 * @param healthPort      a plaintext port serving only grpc.health.v1 (Kubernetes gRPC probes speak no
 *                        TLS); -1 for none, 0 picks a free one
 * @param watchInterval   how often the repository is re-read for new models and versions (zero: no
 *                        watch; repository mode only)
 * @param bindAddress     the address every listener binds (gRPC, metrics, health): 0.0.0.0 for all
 *                        interfaces, 127.0.0.1 for this machine only
 */
public record ServerConfig(
        int port,
        int metricsPort,
        Path modelRepository,
        Path model,
        String modelName,
        int workers,
        int maxBatch,
        Duration maxBatchDelay,
        int queueCapacity,
        int maxItems,
        int maxMessageBytes,
        Duration drainTimeout,
        GuardMode guardMode,
        Path tlsCert,
        Path tlsKey,
        Path tlsClientCa,
        String token,
        int torchThreads,
        int torchInteropThreads,
        int healthPort,
        Duration watchInterval,
        String bindAddress) {

    /** The longest --max-batch-delay-ms accepted. */
    static final int MAX_BATCH_DELAY_MS = 1000;

    /** The settings, their environment variables and defaults, in the order {@code --help} lists them. */
    public static final Map<String, String> DEFAULTS = Map.ofEntries(
            Map.entry("GUARD_PORT", "8500"),
            Map.entry("GUARD_METRICS_PORT", "9464"),
            Map.entry("GUARD_WORKERS", "2"),
            Map.entry("GUARD_MAX_BATCH", "32"),
            Map.entry("GUARD_MAX_BATCH_DELAY_MS", "0"),
            Map.entry("GUARD_QUEUE_CAPACITY", "256"),
            Map.entry("GUARD_MAX_ITEMS", "64"),
            Map.entry("GUARD_MAX_MESSAGE_BYTES", Integer.toString(16 * 1024 * 1024)),
            Map.entry("GUARD_DRAIN_SECONDS", "10"),
            Map.entry("GUARD_MODE", "flag"),
            Map.entry("GUARD_TORCH_THREADS", "0"),
            Map.entry("GUARD_TORCH_INTEROP_THREADS", "1"),
            Map.entry("GUARD_HEALTH_PORT", "-1"),
            Map.entry("GUARD_WATCH_INTERVAL_MS", "0"),
            Map.entry("GUARD_BIND_ADDRESS", "0.0.0.0"));

    /**
     * Validates; a refused setting is an {@link InvalidSetting} whose message names each setting by its source
     * (its flag when built directly, see {@link #from(Settings, Path)}).
     */
    public ServerConfig {
        checkPort(port, "GUARD_PORT", false);
        checkPort(metricsPort, "GUARD_METRICS_PORT", true);
        checkPort(healthPort, "GUARD_HEALTH_PORT", true);
        if (model != null && modelRepository != null) {
            throw new InvalidSetting(s -> "give either a model (" + s.name("GUARD_MODEL") + ") or a model repository"
                    + " (" + s.name("GUARD_MODEL_REPOSITORY") + "), not both");
        }
        if (model == null && modelRepository == null) {
            throw new InvalidSetting(s -> "no model: give " + s.name("GUARD_MODEL") + " DIR or "
                    + s.name("GUARD_MODEL_REPOSITORY") + " DIR");
        }
        if (modelName != null && model == null) {
            throw new InvalidSetting(s -> s.name("GUARD_MODEL_NAME") + " only applies with " + s.name("GUARD_MODEL"));
        }
        positive(workers, "GUARD_WORKERS");
        positive(maxBatch, "GUARD_MAX_BATCH");
        positive(queueCapacity, "GUARD_QUEUE_CAPACITY");
        positive(maxItems, "GUARD_MAX_ITEMS");
        positive(maxMessageBytes, "GUARD_MAX_MESSAGE_BYTES");
        Objects.requireNonNull(maxBatchDelay, "maxBatchDelay");
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        Objects.requireNonNull(guardMode, "guardMode");
        if (maxBatchDelay.isNegative()) {
            throw new InvalidSetting(s -> s.name("GUARD_MAX_BATCH_DELAY_MS") + " must not be negative, got "
                    + maxBatchDelay.toMillis());
        }
        if (maxBatchDelay.toMillis() > MAX_BATCH_DELAY_MS) {
            // Every request that arrives alone waits this long: more than a second is a typo (2000 for 2), not a
            // batching policy.
            throw new InvalidSetting(s -> s.name("GUARD_MAX_BATCH_DELAY_MS") + " must be at most " + MAX_BATCH_DELAY_MS
                    + " (a lone request waits that long for company), got " + maxBatchDelay.toMillis());
        }
        if (drainTimeout.isNegative()) {
            throw new InvalidSetting(s -> s.name("GUARD_DRAIN_SECONDS") + " must not be negative, got "
                    + drainTimeout.toSeconds());
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new InvalidSetting(s -> "TLS needs both a certificate (" + s.name("GUARD_TLS_CERT")
                    + ") and its key (" + s.name("GUARD_TLS_KEY") + ")");
        }
        if (tlsClientCa != null && tlsCert == null) {
            throw new InvalidSetting(s -> "mTLS (" + s.name("GUARD_TLS_CLIENT_CA") + ") needs "
                    + s.name("GUARD_TLS_CERT") + " and " + s.name("GUARD_TLS_KEY"));
        }
        // Checked here, before any model loads, so that a typo fails in a second rather than after the load.
        readable(tlsCert, "GUARD_TLS_CERT");
        readable(tlsKey, "GUARD_TLS_KEY");
        readable(tlsClientCa, "GUARD_TLS_CLIENT_CA");
        if (token != null && token.isBlank()) {
            // Blank would mean "no token", i.e. repository RPCs open to anyone: never silently.
            throw new IllegalArgumentException("the repository token is blank; set a token, or unset GUARD_TOKEN"
                    + " (and give no --token-file) to leave the repository RPCs without one");
        }
        Objects.requireNonNull(watchInterval, "watchInterval");
        if (watchInterval.isNegative()) {
            throw new InvalidSetting(s -> s.name("GUARD_WATCH_INTERVAL_MS") + " must not be negative");
        }
        if (!watchInterval.isZero() && model != null) {
            throw new InvalidSetting(s -> s.name("GUARD_WATCH_INTERVAL_MS") + " applies to "
                    + s.name("GUARD_MODEL_REPOSITORY") + ", not " + s.name("GUARD_MODEL"));
        }
        if (bindAddress == null || bindAddress.isBlank()) {
            throw new InvalidSetting(s -> s.name("GUARD_BIND_ADDRESS") + " must not be blank");
        }
        try {
            java.net.InetAddress address = java.net.InetAddress.getByName(bindAddress);  // literal or /etc/hosts
            if (!address.isAnyLocalAddress() && !address.isLoopbackAddress()
                    && java.net.NetworkInterface.getByInetAddress(address) == null) {
                throw new InvalidSetting(s -> s.name("GUARD_BIND_ADDRESS") + " " + bindAddress + " is not an address"
                        + " of this machine");
            }
        } catch (java.net.UnknownHostException e) {
            throw new InvalidSetting(s -> s.name("GUARD_BIND_ADDRESS") + " " + bindAddress + ": unknown host");
        } catch (java.net.SocketException e) {
            throw new InvalidSetting(s -> s.name("GUARD_BIND_ADDRESS") + " " + bindAddress + ": " + e.getMessage());
        }
        if (torchThreads < 0 || torchInteropThreads < 1) {
            throw new InvalidSetting(s -> s.name("GUARD_TORCH_THREADS") + " must be >= 0 and "
                    + s.name("GUARD_TORCH_INTEROP_THREADS") + " >= 1");
        }
    }

    /**
     * Reads settings from the environment only, keyed by variable name (a plain map in tests). With neither
     * {@code GUARD_MODEL} nor {@code GUARD_MODEL_REPOSITORY}, serves the demo repository
     * {@code <guardHome>/demo/models}.
     */
    public static ServerConfig from(Map<String, String> environment, Path guardHome) {
        return from(Settings.environment(environment), guardHome);
    }

    /** As {@link #from(Map, Path)}, with flags over the environment; errors name where a bad value came from. */
    static ServerConfig from(Settings settings, Path guardHome) {
        Path repository = path(settings, "GUARD_MODEL_REPOSITORY");
        Path model = path(settings, "GUARD_MODEL");
        if (repository == null && model == null) {
            repository = guardHome.resolve("demo").resolve("models");
            if (!Files.isDirectory(repository)) {
                throw new IllegalArgumentException("no --model or --model-repository given and the demo repository "
                        + repository + " does not exist");
            }
        }
        try {
            return new ServerConfig(
                    integer(settings, "GUARD_PORT"),
                    integer(settings, "GUARD_METRICS_PORT"),
                    repository,
                    model,
                    settings.get("GUARD_MODEL_NAME"),
                    integer(settings, "GUARD_WORKERS"),
                    integer(settings, "GUARD_MAX_BATCH"),
                    Duration.ofMillis(integer(settings, "GUARD_MAX_BATCH_DELAY_MS")),
                    integer(settings, "GUARD_QUEUE_CAPACITY"),
                    integer(settings, "GUARD_MAX_ITEMS"),
                    integer(settings, "GUARD_MAX_MESSAGE_BYTES"),
                    Duration.ofSeconds(integer(settings, "GUARD_DRAIN_SECONDS")),
                    GuardMode.parse(value(settings, "GUARD_MODE"), settings.name("GUARD_MODE")),
                    path(settings, "GUARD_TLS_CERT"),
                    path(settings, "GUARD_TLS_KEY"),
                    path(settings, "GUARD_TLS_CLIENT_CA"),
                    settings.raw("GUARD_TOKEN"),
                    integer(settings, "GUARD_TORCH_THREADS"),
                    integer(settings, "GUARD_TORCH_INTEROP_THREADS"),
                    integer(settings, "GUARD_HEALTH_PORT"),
                    Duration.ofMillis(integer(settings, "GUARD_WATCH_INTERVAL_MS")),
                    value(settings, "GUARD_BIND_ADDRESS"));
        } catch (InvalidSetting e) {
            // The constructor cannot know the sources; these settings do.
            throw new IllegalArgumentException(e.messageIn(settings), e);
        }
    }

    /** The batcher's part of the settings. */
    public BatcherConfig batcher() {
        return new BatcherConfig(workers, maxBatch, maxBatchDelay, queueCapacity, drainTimeout);
    }

    /** PyTorch intra-op threads: the setting, or the cores shared evenly by the workers. */
    public int effectiveTorchThreads() {
        return torchThreads > 0 ? torchThreads
                : Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
    }

    /** The bind address as a URL host: IPv6 literals in brackets. */
    public String urlHost() {
        return bindAddress.contains(":") ? "[" + bindAddress + "]" : bindAddress;
    }

    public boolean tls() {
        return tlsCert != null;
    }

    private static String value(Settings settings, String key) {
        String v = settings.get(key);
        return v != null ? v : DEFAULTS.get(key);
    }

    private static int integer(Settings settings, String key) {
        String v = value(settings, key);
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException | NullPointerException e) {
            throw new IllegalArgumentException(settings.name(key) + ": expected an integer, got '" + v + "'");
        }
    }

    private static void readable(Path file, String key) {
        if (file != null && !Files.isReadable(file)) {
            String why = Files.exists(file) ? "not readable" : "no such file";
            throw new InvalidSetting(s -> s.name(key) + " " + file + ": " + why);
        }
    }

    private static Path path(Settings settings, String key) {
        String v = settings.get(key);
        return v == null ? null : Path.of(v);
    }

    private static void positive(int value, String key) {
        if (value < 1) {
            throw new InvalidSetting(s -> s.name(key) + " must be >= 1, got " + value);
        }
    }

    private static void checkPort(int port, String key, boolean allowDisabled) {
        if (port < (allowDisabled ? -1 : 0) || port > 65_535) {
            throw new InvalidSetting(s -> s.name(key) + " out of range: " + port);
        }
    }
}
