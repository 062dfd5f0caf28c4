package dev.backdoorguard.server;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.guard.ModelGuard;
import dev.backdoorguard.proto.inference.GRPCInferenceServiceGrpc;
import dev.backdoorguard.proto.v1.GuardGrpc;
import dev.backdoorguard.server.batch.DynamicBatcher;
import dev.backdoorguard.server.metrics.GuardMetrics;
import dev.backdoorguard.server.metrics.MetricsEndpoint;
import dev.backdoorguard.server.repository.ModelLoader;
import dev.backdoorguard.server.repository.ModelRepository;
import dev.backdoorguard.server.repository.RepositoryWatcher;
import dev.backdoorguard.server.rpc.BearerTokenInterceptor;
import dev.backdoorguard.server.rpc.GuardInspectService;
import dev.backdoorguard.server.rpc.InFlightCalls;
import dev.backdoorguard.server.rpc.InferenceService;
import dev.backdoorguard.server.rpc.OversizedMessageCounter;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.core.instrument.binder.grpc.MetricCollectingServerInterceptor;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code guard serve}: the only composition root of the server. Every flag has a {@code GUARD_*}
 * environment variable; a flag wins over its variable, which wins over the default. {@code --model} and
 * {@code --model-repository} also win over the other one's variable (see {@link Settings}).
 */
@Command(name = "guard serve", mixinStandardHelpOptions = true, versionProvider = ServerMain.Version.class,
        sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Serve bundles over gRPC (Open Inference Protocol v2 + Triton extensions, guard.v1),",
            "with the runtime guard, health, reflection and Prometheus metrics.",
            "Without --model or --model-repository, serves the demo repository $GUARD_HOME/demo/models."})
public final class ServerMain implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "Serve one bundle directory (env GUARD_MODEL;"
            + " the flag wins over GUARD_MODEL_REPOSITORY).")
    String model;

    @Option(names = "--model-name", paramLabel = "NAME",
            description = "Name to serve --model under; default its directory name, or its parent's for a"
                    + " version directory such as models/fashion-mnist/1 (env GUARD_MODEL_NAME).")
    String modelName;

    @Option(names = "--model-repository", paramLabel = "DIR",
            description = "Serve <DIR>/<model>/<version>/ bundles, the highest version of each"
                    + " (env GUARD_MODEL_REPOSITORY; the flag wins over GUARD_MODEL).")
    String modelRepository;

    @Option(names = "--port", paramLabel = "PORT",
            description = "gRPC port; 0 picks a free one (env GUARD_PORT, default 8500).")
    String port;

    @Option(names = "--bind-address", paramLabel = "ADDRESS",
            description = "Address every port listens on: 0.0.0.0 all interfaces, 127.0.0.1 this machine only"
                    + " (env GUARD_BIND_ADDRESS, default 0.0.0.0).")
    String bindAddress;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Prometheus /metrics port; 0 picks a free one, -1 disables (env GUARD_METRICS_PORT,"
                    + " default 9464).")
    String metricsPort;

    @Option(names = "--health-port", paramLabel = "PORT",
            description = "Extra plaintext port serving only grpc.health.v1, for Kubernetes gRPC probes when the"
                    + " main port uses TLS; -1 none, 0 a free one (env GUARD_HEALTH_PORT, default -1).")
    String healthPort;

    @Option(names = "--guard-mode", paramLabel = "MODE",
            description = "Default guard mode off|flag|block; a request's 'guard.mode' parameter overrides it"
                    + " (env GUARD_MODE, default flag).")
    String guardMode;

    @Option(names = "--workers", paramLabel = "N",
            description = "Inference worker threads (env GUARD_WORKERS, default 2).")
    String workers;

    @Option(names = "--max-batch", paramLabel = "N",
            description = "Most images per model execution (env GUARD_MAX_BATCH, default 32).")
    String maxBatch;

    @Option(names = "--max-batch-delay-ms", paramLabel = "MS",
            description = "How long a batch waits for more requests, 0.." + ServerConfig.MAX_BATCH_DELAY_MS
                    + " (env GUARD_MAX_BATCH_DELAY_MS, default 0: a batch takes the requests already queued"
                    + " and runs at once; under load they queue up while the workers compute, so batches"
                    + " fill without waiting).")
    String maxBatchDelay;

    @Option(names = "--queue-capacity", paramLabel = "N",
            description = "Requests that may wait; beyond it RESOURCE_EXHAUSTED (env GUARD_QUEUE_CAPACITY,"
                    + " default 256).")
    String queueCapacity;

    @Option(names = "--max-items", paramLabel = "N",
            description = "Most images in one request (env GUARD_MAX_ITEMS, default 64).")
    String maxItems;

    @Option(names = "--max-message-bytes", paramLabel = "BYTES",
            description = "Largest inbound gRPC message (env GUARD_MAX_MESSAGE_BYTES, default 16777216).")
    String maxMessageBytes;

    @Option(names = "--drain-seconds", paramLabel = "S",
            description = "On shutdown, how long in-flight requests may finish (env GUARD_DRAIN_SECONDS,"
                    + " default 10).")
    String drainSeconds;

    @Option(names = "--tls-cert", paramLabel = "PEM",
            description = "Server certificate chain; enables TLS (env GUARD_TLS_CERT).")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM",
            description = "Server private key, PKCS#8 PEM (env GUARD_TLS_KEY).")
    String tlsKey;

    @Option(names = "--tls-client-ca", paramLabel = "PEM",
            description = "CA of client certificates; enables and requires mTLS (env GUARD_TLS_CLIENT_CA).")
    String tlsClientCa;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "File holding the bearer token the repository RPCs require (env GUARD_TOKEN holds the"
                    + " token itself; a file keeps it out of the process list).")
    String tokenFile;

    @Option(names = "--torch-threads", paramLabel = "N",
            description = "PyTorch intra-op threads; 0 = cores / workers (env GUARD_TORCH_THREADS, default 0);"
                    + " -Dai.djl.pytorch.num_threads in GUARD_JAVA_OPTS overrides it.")
    String torchThreads;

    @Option(names = "--torch-interop-threads", paramLabel = "N",
            description = "PyTorch inter-op threads (env GUARD_TORCH_INTEROP_THREADS, default 1);"
                    + " -Dai.djl.pytorch.num_interop_threads in GUARD_JAVA_OPTS overrides it.")
    String torchInteropThreads;

    @Option(names = "--watch-interval-ms", paramLabel = "MS",
            description = "Re-read the model repository every MS milliseconds: new models and versions are loaded"
                    + " (and go live after a warm-up), models whose directory is gone are unloaded; a version that"
                    + " fails to load is retried when its files change; 0 = no watch (env GUARD_WATCH_INTERVAL_MS,"
                    + " default 0). Copy a new version in under another name and rename it into place.")
    String watchInterval;

    /**
     * gRPC logs every message it refuses while reading it (over --max-message-bytes) as a WARNING with a stack
     * trace: any client could flood the log. The client gets RESOURCE_EXHAUSTED and the refusal is counted in
     * grpc_server_* metrics. Held here because JUL keeps loggers only weakly (the level would be lost).
     */
    private static final java.util.logging.Logger DEFRAME_FAILURES =
            java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");

    public static void main(String[] args) {
        DEFRAME_FAILURES.setLevel(java.util.logging.Level.SEVERE);
        CommandLine cli = new CommandLine(new ServerMain());
        cli.setExpandAtFiles(false);  // '@x' is a path, never a file of more arguments
        cli.setParameterExceptionHandler((e, args2) -> {  // one line, not the whole usage
            e.getCommandLine().getErr().println("guard serve: " + e.getMessage() + " (see 'guard serve --help')");
            CommandLine.UnmatchedArgumentException.printSuggestions(e, e.getCommandLine().getErr());
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof IllegalArgumentException || e instanceof IOException
                    || e instanceof dev.backdoorguard.core.guard.GuardException) {
                commandLine.getErr().println("guard serve: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        System.exit(cli.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Map<String, String> flags = new HashMap<>();
        put(flags, "GUARD_MODEL", model);
        put(flags, "GUARD_MODEL_NAME", modelName);
        put(flags, "GUARD_MODEL_REPOSITORY", modelRepository);
        put(flags, "GUARD_PORT", port);
        put(flags, "GUARD_METRICS_PORT", metricsPort);
        put(flags, "GUARD_HEALTH_PORT", healthPort);
        put(flags, "GUARD_MODE", guardMode);
        put(flags, "GUARD_WORKERS", workers);
        put(flags, "GUARD_MAX_BATCH", maxBatch);
        put(flags, "GUARD_MAX_BATCH_DELAY_MS", maxBatchDelay);
        put(flags, "GUARD_QUEUE_CAPACITY", queueCapacity);
        put(flags, "GUARD_MAX_ITEMS", maxItems);
        put(flags, "GUARD_MAX_MESSAGE_BYTES", maxMessageBytes);
        put(flags, "GUARD_DRAIN_SECONDS", drainSeconds);
        put(flags, "GUARD_TLS_CERT", tlsCert);
        put(flags, "GUARD_TLS_KEY", tlsKey);
        put(flags, "GUARD_TLS_CLIENT_CA", tlsClientCa);
        put(flags, "GUARD_TORCH_THREADS", torchThreads);
        put(flags, "GUARD_TORCH_INTEROP_THREADS", torchInteropThreads);
        put(flags, "GUARD_WATCH_INTERVAL_MS", watchInterval);
        put(flags, "GUARD_BIND_ADDRESS", bindAddress);
        if (tokenFile != null) {
            flags.put("GUARD_TOKEN", readToken(Path.of(tokenFile)));
        }
        Path home = Path.of(System.getProperty("guard.home", System.getProperty("user.dir")));
        Settings settings = new Settings(System.getenv(), flags);
        ServerConfig config = ServerConfig.from(settings, home);

        // Intra-op threads shared evenly by the workers, one inter-op thread: each batch is one
        // eager forward pass, and concurrent workers already use the cores. DJL reads these when the
        // PyTorch engine starts, so they are set before anything touches the engine.
        // A -D in GUARD_JAVA_OPTS wins (it is the JVM's own setting, and deployments set it); a flag it overrides is
        // named, not silently ignored.
        setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(config.effectiveTorchThreads()),
                config.torchThreads() > 0, "--torch-threads (GUARD_TORCH_THREADS)");
        setIfAbsent("ai.djl.pytorch.num_interop_threads", Integer.toString(config.torchInteropThreads()),
                config.torchInteropThreads() != 1, "--torch-interop-threads (GUARD_TORCH_INTEROP_THREADS)");

        GuardServer server = start(config, settings, ServerMain::loadBundle);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "guard-shutdown"));
        System.out.println("guard serve: gRPC on port " + server.port()
                + (server.metricsPort() >= 0 ? ", metrics on http://" + config.urlHost() + ":" + server.metricsPort()
                        + "/metrics" : "")
                + (server.healthPort() >= 0 ? ", plaintext health on port " + server.healthPort() : "")
                + ", models " + modelList(server.models()) + (config.tls() ? " (TLS)" : ""));
        server.awaitTermination();
        return 0;
    }

    /** The served models for the start-up line, each one without a detector marked as unguarded. */
    static String modelList(ModelRepository models) {
        return models.served().stream()
                .map(m -> m.guard().hasDetector() ? m.name() : m.name() + " (unguarded: no detector)")
                .toList().toString();
    }

    /** The token in {@code --token-file}, refused when unreadable or empty (which would leave the RPCs open). */
    static String readToken(Path file) {
        String token;
        try {
            token = java.nio.file.Files.readString(file).strip();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("--token-file " + file + ": no such file");
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("--token-file " + file + ": cannot read it (" + e.getMessage() + ")");
        }
        if (token.isEmpty()) {
            throw new IllegalArgumentException("--token-file " + file + " is empty: the repository RPCs would need no"
                    + " token; write the token into it");
        }
        return token;
    }

    /** The one way bundles are loaded: the classifier and, when the bundle has one, its verified detector. */
    static ModelGuard loadBundle(Path dir) throws IOException {
        return ModelGuard.load(dir, Architectures.standard());
    }

    /** As {@link #start(ServerConfig, Settings, ModelLoader)}, its errors naming every setting by its flag (tests). */
    static GuardServer start(ServerConfig config, ModelLoader loader) throws IOException {
        return start(config, Settings.none(), loader);
    }

    /**
     * Wires and starts everything; tests pass their own loader. Errors name each setting as {@code sources} name
     * it: by the variable {@code config} read it from, or by its flag.
     */
    static GuardServer start(ServerConfig config, Settings sources, ModelLoader loader) throws IOException {
        // First, before the models load, so that bad TLS files fail in a second (binding happens at start()).
        ServerBuilder<?> builder = tlsNamed(config, sources,
                () -> NettyServerBuilder.forAddress(new InetSocketAddress(config.bindAddress(), config.port()),
                        credentials(config)));
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        List<AutoCloseable> owned = new ArrayList<>();
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        owned.add(gc);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        String version = Version.version();
        GuardMetrics metrics = new GuardMetrics(registry, version,
                System.getenv().getOrDefault("GUARD_COMMIT", "unknown"), ai.djl.engine.Engine.getDjlVersion(), "PyTorch");

        HealthStatusManager health = new HealthStatusManager();
        ModelEvents events = new ModelEvents(metrics, health);
        ModelRepository models = config.model() != null
                ? ModelRepository.ofBundle(config.model(), config.modelName(), loader, events)
                : ModelRepository.ofDirectory(config.modelRepository(), loader, events);
        DynamicBatcher batcher = null;
        MetricsEndpoint endpoint = null;
        ExecutorService executor = null;
        Server healthOnly = null;
        Server grpc = null;
        try {
            models.loadAll();
            events.attach(models);
            batcher = new DynamicBatcher(config.batcher(), metrics);
            AtomicInteger threadNumber = new AtomicInteger();
            executor = Executors.newFixedThreadPool(Math.max(4, 2 * config.workers()), r -> {
                Thread t = new Thread(r, "guard-grpc-" + threadNumber.getAndIncrement());
                t.setDaemon(true);
                return t;
            });
            InferenceService inference = new InferenceService(models, batcher, metrics, config.guardMode(),
                    config.maxItems(), version, executor);
            // What shutdown drains: the calls of these two services (all unary), counted from the transport on.
            InFlightCalls drained = new InFlightCalls(Set.of(GRPCInferenceServiceGrpc.SERVICE_NAME,
                    GuardGrpc.SERVICE_NAME));
            builder.executor(executor)
                    .maxInboundMessageSize(config.maxMessageBytes())
                    .addStreamTracerFactory(new OversizedMessageCounter(metrics::messageTooLarge))
                    .addStreamTracerFactory(drained)
                    .addService(inference)
                    .addService(new GuardInspectService(models))
                    .addService(health.getHealthService())
                    .addService(ProtoReflectionServiceV1.newInstance());
            if (config.token() != null) {
                builder.intercept(new BearerTokenInterceptor(config.token()));
            }
            // Added last, so it runs first: refused (UNAUTHENTICATED) calls are counted too.
            builder.intercept(new MetricCollectingServerInterceptor(registry));
            Server built = builder.build();
            grpc = bound(sources.name("GUARD_PORT"), config.port(), built::start);
            if (config.healthPort() >= 0) {
                healthOnly = bound(sources.name("GUARD_HEALTH_PORT"), config.healthPort(),
                        () -> NettyServerBuilder.forAddress(new InetSocketAddress(config.bindAddress(),
                                config.healthPort()), InsecureServerCredentials.create())
                                .addService(health.getHealthService()).build().start());
            }
            if (config.metricsPort() >= 0) {
                endpoint = bound(sources.name("GUARD_METRICS_PORT"), config.metricsPort(),
                        () -> MetricsEndpoint.start(config.bindAddress(), config.metricsPort(), registry));
            }
            if (!config.watchInterval().isZero()) {
                // First in the list: the watch stops before anything else is closed.
                owned.add(0, RepositoryWatcher.start(models, config.watchInterval()));
            }
            return new GuardServer(config, grpc, healthOnly, executor, events, models, drained, batcher, endpoint,
                    owned);
        } catch (IOException | RuntimeException e) {
            // A failed start leaves nothing bound or running: ports, threads and the models' native memory.
            if (grpc != null) {
                grpc.shutdownNow();
            }
            if (endpoint != null) {
                endpoint.close();
            }
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (batcher != null) {
                batcher.close();
            }
            if (executor != null) {
                executor.shutdownNow();
            }
            if (healthOnly != null) {
                healthOnly.shutdownNow();
            }
            models.close();
            throw e;
        }
    }

    private interface Binding<T> {
        T bind() throws IOException;
    }

    /**
     * Binds a listener, naming the setting (flag or variable) and port when that fails (a bare "Address already in
     * use" names neither).
     */
    private static <T> T bound(String setting, int port, Binding<T> binding) throws IOException {
        try {
            return binding.bind();
        } catch (IOException e) {
            throw new IOException(setting + " " + port + ": cannot listen there (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Runs {@code withCredentials}, naming the TLS files when their content is refused: Netty's own
     * messages ("Input stream not contain valid certificates") name neither the file nor the fix.
     */
    private static <T> T tlsNamed(ServerConfig config, Settings sources, Binding<T> withCredentials)
            throws IOException {
        try {
            return withCredentials.bind();
        } catch (IllegalArgumentException | IOException e) {
            if (!config.tls()) {
                throw e;
            }
            throw new IllegalArgumentException("TLS files refused (" + sources.name("GUARD_TLS_CERT") + " "
                    + config.tlsCert() + ", " + sources.name("GUARD_TLS_KEY") + " " + config.tlsKey()
                    + (config.tlsClientCa() != null
                            ? ", " + sources.name("GUARD_TLS_CLIENT_CA") + " " + config.tlsClientCa() : "")
                    + "): " + String.valueOf(e.getMessage()).replaceFirst("\\.$", "") + "; the certificates must be PEM and the key unencrypted PKCS#8 PEM"
                    + " (convert a PKCS#1 'BEGIN RSA PRIVATE KEY' file with: openssl pkcs8 -topk8 -nocrypt -in KEY"
                    + " -out KEY8)", e);
        }
    }

    private static ServerCredentials credentials(ServerConfig config) throws IOException {
        if (!config.tls()) {
            return InsecureServerCredentials.create();
        }
        TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                .keyManager(config.tlsCert().toFile(), config.tlsKey().toFile());
        if (config.tlsClientCa() != null) {
            tls.trustManager(config.tlsClientCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        }
        return tls.build();
    }

    private static void put(Map<String, String> settings, String key, String flag) {
        if (flag != null) {
            settings.put(key, flag);
        }
    }

    private static void setIfAbsent(String property, String value, boolean flagGiven, String flag) {
        String existing = System.getProperty(property);
        if (existing == null) {
            System.setProperty(property, value);
        } else if (flagGiven && !existing.equals(value)) {
            System.err.println("guard serve: -D" + property + "=" + existing + " (GUARD_JAVA_OPTS) overrides " + flag
                    + " " + value);
        }
    }

    /** The version from the jar manifest ({@code dev} when run from classes). */
    static final class Version implements CommandLine.IVersionProvider {
        static String version() {
            String v = ServerMain.class.getPackage().getImplementationVersion();
            return v == null ? "dev" : v;
        }

        @Override
        public String[] getVersion() {
            return new String[] {"guard serve " + version()};
        }
    }
}
