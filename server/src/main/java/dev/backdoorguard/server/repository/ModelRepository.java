package dev.backdoorguard.server.repository;

import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.detect.CriticalLayerDetector;
import dev.backdoorguard.core.guard.Guard;
import dev.backdoorguard.core.guard.InvalidInputException;
import dev.backdoorguard.core.guard.PixelBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The served models: a Triton-style {@code <repo>/<model>/<version>/} tree, or one bundle served
 * under a chosen name. Each model serves one version, the highest numeric one. A new version goes
 * live only after it loaded and answered a warm-up prediction; a failed load keeps the old version
 * serving; a replaced version closes once its in-flight requests have released it.
 */
public final class ModelRepository implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(ModelRepository.class);
    /** Model names: no separators, no leading dot, so a name can never leave the repository. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    private static final Pattern VERSION = Pattern.compile("[0-9]{1,18}");

    /** The state of one model name, as RepositoryIndex reports it. */
    public record IndexEntry(String name, String version, String state, String reason) {}

    private record Entry(ServedModel current, String state, String reason) {}

    private static final String UNLOADED = "unloaded";

    private final Path root;          // the repository root, or null when serving one bundle
    private final Path singleBundle;  // the one bundle, or null
    private final String singleName;
    private final ModelLoader loader;
    private final RepositoryListener listener;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final Object loadLock = new Object();
    /** For the watch: the version (and its files' newest modification time) that last failed, by model. */
    private final Map<String, String> failedByWatch = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private ModelRepository(Path root, Path singleBundle, String singleName, ModelLoader loader,
            RepositoryListener listener) {
        this.root = root;
        this.singleBundle = singleBundle;
        this.singleName = singleName;
        this.loader = loader;
        this.listener = listener;
    }

    /** A repository tree {@code <root>/<model>/<version>/}. */
    public static ModelRepository ofDirectory(Path root, ModelLoader loader, RepositoryListener listener) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("model repository " + root + " is not a directory");
        }
        return new ModelRepository(root, null, null, loader, listener);
    }

    /** One bundle served as version 1 of {@code name} (the directory's name when null). */
    public static ModelRepository ofBundle(Path bundle, String name, ModelLoader loader, RepositoryListener listener) {
        if (!Files.isDirectory(bundle)) {
            throw new IllegalArgumentException("model bundle " + bundle + " is not a directory");
        }
        Path absolute = bundle.toAbsolutePath().normalize();
        String served = name;
        if (served == null) {
            // <repo>/<model>/<version>/ given directly: serve it as <model>, not as "1"
            boolean versionDir = absolute.getFileName().toString().matches("\\d+") && absolute.getParent() != null
                    && absolute.getParent().getFileName() != null;
            served = (versionDir ? absolute.getParent() : absolute).getFileName().toString();
        }
        checkName(served);
        return new ModelRepository(null, bundle, served, loader, listener);
    }

    /** Loads every model found; any failure is fatal at start (the message names the model). */
    public void loadAll() {
        List<String> names = modelNames();
        if (names.isEmpty()) {
            throw new IllegalArgumentException("model repository " + root + " contains no model directories");
        }
        for (String name : names) {
            load(name);
        }
    }

    /**
     * Loads (or reloads) {@code name} from its highest version directory and swaps it in once it has
     * answered a warm-up prediction.
     *
     * @throws ModelNotFoundException when the repository has no such model or version directory
     * @throws ModelLoadException when loading or warm-up failed (the old version keeps serving)
     */
    public ServedModel load(String name) {
        checkName(name);
        synchronized (loadLock) {
            if (closed) {
                throw new ModelUnavailableException("server is shutting down");
            }
            Path dir;
            String version;
            if (root == null) {
                if (!name.equals(singleName)) {
                    throw new ModelNotFoundException("model '" + name + "' is not served (this server serves '"
                            + singleName + "' only)");
                }
                dir = singleBundle;
                version = "1";
            } else {
                Path modelDir = root.resolve(name);
                version = latestVersion(modelDir).orElseThrow(() -> new ModelNotFoundException("model '" + name
                        + "' has no numeric version directory under " + root));
                dir = modelDir.resolve(version);
            }
            long start = System.nanoTime();
            Guard guard = null;
            try {
                guard = loader.load(dir);
                warmUp(guard);
            } catch (IOException | RuntimeException | LinkageError e) {
                if (guard != null) {
                    guard.close();
                }
                long nanos = System.nanoTime() - start;
                Entry old = entries.get(name);
                String reason = "load of version " + version + " failed: " + e.getMessage();
                entries.put(name, old != null && old.current() != null
                        ? new Entry(old.current(), "READY", reason)
                        : new Entry(null, "UNAVAILABLE", reason));
                logger.warn("model {} version {}: {}{}", name, version, reason,
                        old != null && old.current() != null ? " (version " + old.current().version()
                                + " keeps serving)" : "");
                listener.loadFinished(name, version, nanos, e);
                listener.changed();
                throw new ModelLoadException("model '" + name + "': " + reason, e);
            }
            ServedModel fresh = new ServedModel(name, version, guard);
            Entry old = entries.put(name, new Entry(fresh, "READY", ""));
            listener.loadFinished(name, version, System.nanoTime() - start, null);
            listener.versionState(name, version, true);
            if (old != null && old.current() != null) {
                if (!old.current().version().equals(version)) {
                    listener.versionState(name, old.current().version(), false);
                }
                old.current().retire();
            }
            if (guard.hasDetector()) {
                logger.info("model {} version {} is ready (its detector scores with {})", name, version,
                        CriticalLayerDetector.simdScoring() ? "SIMD lanes"
                                : "plain Java; start the JVM with --add-modules jdk.incubator.vector for SIMD lanes");
            } else {
                // Served, but every request passes unchecked: an operator must see that, not infer it.
                logger.warn("model {} version {} is ready (no detector: the guard is off for it)", name, version);
            }
            listener.changed();
            return fresh;
        }
    }

    /**
     * One pass of the repository watch: loads models that appeared and newer versions of served ones
     * (each goes live only after its warm-up, as with {@link #load}), and unloads models whose directory
     * is gone. A version that failed to load is not retried until its files change; a model unloaded
     * through the API stays unloaded. Failures are reported as by {@link #load}, never thrown.
     */
    public void poll() {
        if (root == null || closed) {
            return;
        }
        List<String> names = modelNames();
        for (String name : names) {
            Optional<String> latest = latestVersion(root.resolve(name));
            Entry entry = entries.get(name);
            if (latest.isEmpty() || entry != null && entry.current() == null && UNLOADED.equals(entry.reason())) {
                continue;
            }
            if (entry != null && entry.current() != null && entry.current().version().equals(latest.get())) {
                continue;
            }
            String stamp = latest.get() + "@" + newestModification(root.resolve(name).resolve(latest.get()));
            if (stamp.equals(failedByWatch.get(name))) {
                continue;
            }
            try {
                load(name);
                failedByWatch.remove(name);
            } catch (ModelLoadException | ModelNotFoundException e) {
                failedByWatch.put(name, stamp);  // reported by load; retried when the files change
            }
        }
        List<String> gone = entries.entrySet().stream()
                .filter(e -> !names.contains(e.getKey()) && e.getValue().current() != null).map(Map.Entry::getKey)
                .toList();
        for (String name : gone) {
            logger.info("model {}: its directory is gone from {}, unloading", name, root);
            unload(name);
            // Forgotten, not kept as "unloaded" (which only the API's load undoes): if the directory comes back,
            // the next pass loads it as a new model.
            entries.remove(name);
            failedByWatch.remove(name);
        }
    }

    private static long newestModification(Path versionDir) {
        try (Stream<Path> files = Files.walk(versionDir)) {
            return files.mapToLong(f -> f.toFile().lastModified()).max().orElse(0);
        } catch (IOException | java.io.UncheckedIOException e) {
            return -1;
        }
    }

    /** Stops serving {@code name}; in-flight requests finish on the version they hold. */
    public void unload(String name) {
        checkName(name);
        synchronized (loadLock) {
            Entry old = entries.get(name);
            if (old == null) {
                throw new ModelNotFoundException("model '" + name + "' is not loaded");
            }
            entries.put(name, new Entry(null, "UNAVAILABLE", UNLOADED));
            if (old.current() != null) {
                listener.versionState(name, old.current().version(), false);
                old.current().retire();
            }
            logger.info("model {} unloaded", name);
            listener.unloaded(name);
            listener.changed();
        }
    }

    /**
     * Takes a reference on the served version of {@code name} for one request; the caller must
     * {@link ServedModel#release()} it. An empty {@code version} means the served one.
     */
    public ServedModel acquire(String name, String version) {
        while (true) {
            ServedModel model = find(name, version);
            if (model.tryAcquire()) {
                return model;
            }
            // Retired between find and acquire: a reload swapped it; look again.
        }
    }

    /** The served version of {@code name} without taking a reference (metadata, readiness). */
    public ServedModel find(String name, String version) {
        if (closed) {
            throw new ModelUnavailableException("server is shutting down");
        }
        Entry entry = name == null ? null : entries.get(name);
        if (entry == null) {
            throw new ModelNotFoundException("unknown model '" + name + "'");
        }
        ServedModel model = entry.current();
        if (model == null) {
            throw new ModelUnavailableException("model '" + name + "' is not ready: " + entry.reason());
        }
        if (version != null && !version.isEmpty() && !version.equals(model.version())) {
            throw new ModelNotFoundException("model '" + name + "' has no version '" + version
                    + "' loaded (serving version " + model.version() + ")");
        }
        return model;
    }

    /** Every served version, by name. */
    public List<ServedModel> served() {
        List<ServedModel> out = new ArrayList<>();
        new TreeMap<>(entries).values().forEach(e -> {
            if (e.current() != null) {
                out.add(e.current());
            }
        });
        return out;
    }

    /**
     * ServerReady and the overall health status: at least one model is known and every model that
     * should be serving is. A model unloaded on purpose (RepositoryModelUnload, or its directory
     * removed under the watch) no longer counts, as in Triton: otherwise a Kubernetes readiness
     * probe would take every other model of the replica out of service. A failed load still counts.
     */
    public boolean allReady() {
        return !closed && !entries.isEmpty()
                && entries.values().stream().allMatch(e -> e.current() != null || UNLOADED.equals(e.reason()));
    }

    /** Whether {@code name} is serving. */
    public boolean isReady(String name) {
        Entry e = entries.get(name);
        return !closed && e != null && e.current() != null;
    }

    /** Known model names (loaded or not). */
    public List<String> knownNames() {
        return new ArrayList<>(new TreeMap<>(entries).keySet());
    }

    /** RepositoryIndex: models on disk and their state; {@code readyOnly} keeps the serving ones. */
    public List<IndexEntry> index(boolean readyOnly) {
        Map<String, IndexEntry> out = new TreeMap<>();
        for (String name : modelNames()) {
            out.put(name, new IndexEntry(name, "", "UNAVAILABLE", "not loaded"));
        }
        entries.forEach((name, e) -> out.put(name, new IndexEntry(name,
                e.current() == null ? "" : e.current().version(), e.state(), e.reason())));
        return out.values().stream().filter(e -> !readyOnly || e.state().equals("READY")).toList();
    }

    @Override
    public void close() {
        synchronized (loadLock) {
            closed = true;
            entries.forEach((name, e) -> {
                if (e.current() != null) {
                    listener.versionState(name, e.current().version(), false);
                    e.current().retire();
                }
            });
            entries.clear();
            listener.changed();
        }
    }

    private List<String> modelNames() {
        if (root == null) {
            return List.of(singleName);
        }
        try (Stream<Path> children = Files.list(root)) {
            return children.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(n -> NAME.matcher(n).matches()).sorted().toList();
        } catch (IOException e) {
            throw new ModelUnavailableException("cannot list model repository " + root + ": " + e.getMessage());
        }
    }

    private static Optional<String> latestVersion(Path modelDir) {
        if (!Files.isDirectory(modelDir)) {
            return Optional.empty();
        }
        try (Stream<Path> children = Files.list(modelDir)) {
            return children.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(v -> VERSION.matcher(v).matches())
                    .max(Comparator.comparingLong(Long::parseLong));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void warmUp(Guard guard) {
        ModelSpec spec = guard.spec();
        guard.predict(new PixelBatch(new float[spec.imageSize()], 1, spec.channels(), spec.height(),
                spec.imageWidth()), guard.hasDetector());
    }

    /** Rejects names that could escape the repository ({@code ..}, separators) with a clear message. */
    static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches() || name.contains("..")) {
            throw new InvalidInputException("model name '" + name
                    + "' is invalid: use letters, digits, '_', '-' and '.', starting with a letter or digit,"
                    + " without '..' or '/'");
        }
    }
}
