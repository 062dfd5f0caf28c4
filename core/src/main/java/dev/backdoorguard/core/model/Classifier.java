package dev.backdoorguard.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.backdoorguard.core.arch.Architecture;
import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.arch.TapRecorder;
import dev.backdoorguard.core.arch.TorchNetwork;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.ModelJson;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.bundle.SafeTensors;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A classifier in memory: its spec, its architecture's declarations and its network, whose native
 * memory this object owns. Inputs are pixel tensors in [0, 1]; the bundle's normalisation is applied
 * here, before the network, for every caller (training, evaluation, serving).
 */
public final class Classifier implements AutoCloseable {
    public static final String MODEL_JSON = "model.json";
    public static final String WEIGHTS = "weights.safetensors";

    private final ModelSpec spec;
    private final Architecture architecture;
    private final TorchNetwork network;
    private final NDManager manager;
    private final NDArray mean;
    private final NDArray std;

    private Classifier(ModelSpec spec, Architecture architecture, NDManager manager) {
        this.spec = spec;
        this.architecture = architecture;
        this.manager = manager;
        this.network = architecture.create(spec);
        network.initializeParameters(manager, new Shape(1, spec.channels(), spec.height(), spec.imageWidth()));
        this.mean = manager.create(spec.mean()).reshape(1, spec.channels(), 1, 1);
        this.std = manager.create(spec.std()).reshape(1, spec.channels(), 1, 1);
    }

    /** A freshly initialised network (PyTorch's default initialisation), seeded. */
    public static Classifier create(ModelSpec spec, Architectures registry, long seed) {
        Architecture architecture = registry.forSpec(spec);
        Engine.getInstance().setRandomSeed((int) seed);
        return new Classifier(spec, architecture, NDManager.newBaseManager());
    }

    /**
     * An independent copy (own manager, same architecture, this network's current parameters and
     * buffers). It draws its throw-away initial values from the engine's random stream.
     */
    public Classifier copy() throws BundleException {
        Classifier copy = new Classifier(spec, architecture, NDManager.newBaseManager());
        try {
            copy.loadStateDict(stateDict(), "a copy of the " + spec.architecture() + " model");
            return copy;
        } catch (BundleException | RuntimeException e) {
            copy.close();
            throw e;
        }
    }

    /**
     * Reads a bundle directory's {@code model.json} alone, strictly: what a command needs to know before it
     * loads data (the number of classes, the image size), without loading the weights.
     */
    public static ModelSpec readSpec(Path bundle) throws IOException {
        if (!Files.isDirectory(bundle)) {
            throw new BundleException(bundle + ": model bundle directory not found");
        }
        return ModelJson.read(bundle.resolve(MODEL_JSON));
    }

    /** Loads {@code model.json} and {@code weights.safetensors} from a bundle directory, strictly. */
    public static Classifier load(Path bundle, Architectures registry) throws IOException {
        ModelSpec spec = readSpec(bundle);
        Architecture architecture;
        try {
            architecture = registry.forSpec(spec);
        } catch (IllegalArgumentException e) {
            throw new BundleException(bundle.resolve(MODEL_JSON) + ": " + e.getMessage());
        }
        Path weights = bundle.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new BundleException(weights + ": missing (a bundle needs weights.safetensors)");
        }
        Map<String, HostTensor> state = SafeTensors.read(weights);
        Classifier classifier = new Classifier(spec, architecture, NDManager.newBaseManager());
        try {
            classifier.loadStateDict(state, weights.toString());
            return classifier;
        } catch (RuntimeException | IOException e) {
            classifier.close();
            throw e;
        }
    }

    /**
     * Replaces every parameter and buffer with {@code state}; a missing, extra or mis-shaped key is an
     * error that names every offending key. {@code *.num_batches_tracked} is ignored.
     */
    public void loadStateDict(Map<String, HostTensor> state, String source) throws BundleException {
        Map<String, Parameter> params = network.parametersByTorchName();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            HostTensor t = state.get(e.getKey());
            if (t == null) {
                problems.add("missing key " + e.getKey());
            } else if (t.isInteger()) {
                problems.add("key " + e.getKey() + " has an integer dtype, expected floating point");
            } else if (!new Shape(t.shape()).equals(e.getValue().getArray().getShape())) {
                problems.add("key " + e.getKey() + " has shape " + t.shapeString() + ", expected "
                        + e.getValue().getArray().getShape());
            }
        }
        for (String key : state.keySet()) {
            if (!params.containsKey(key) && !key.endsWith(".num_batches_tracked")) {
                problems.add("unexpected key " + key);
            }
        }
        if (!problems.isEmpty()) {
            throw new BundleException(source + " does not match architecture " + spec.architecture() + ": "
                    + String.join("; ", problems));
        }
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            e.getValue().getArray().set(FloatBuffer.wrap(state.get(e.getKey()).floats()));
        }
    }

    /** A copy of every parameter and buffer, by PyTorch key. */
    public Map<String, HostTensor> stateDict() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : network.parametersByTorchName().entrySet()) {
            NDArray a = e.getValue().getArray();
            out.put(e.getKey(), HostTensor.ofFloats(e.getKey(), a.getShape().getShape(), a.toFloatArray()));
        }
        return out;
    }

    /** Normalises pixel images [N, C, H, W] and returns the logits [N, K]. */
    public NDArray forward(NDArray pixels, boolean training) {
        return network.forward(null, new NDList(normalize(pixels)), training).singletonOrThrow();
    }

    /**
     * Normalises pixel images [N, C, H, W] and returns the logits [N, K], offering every tap (then the
     * logits) to {@code recorder} as the network produces it.
     */
    public NDArray forward(NDArray pixels, boolean training, TapRecorder recorder) {
        return network.forwardRecording(normalize(pixels), training, recorder);
    }

    /** Normalises pixel images and returns the logits followed by the requested taps, by tap name. */
    public NDList forwardWithTaps(NDArray pixels, boolean training, Collection<String> taps) {
        return network.forwardWithTaps(normalize(pixels), training, taps);
    }

    /**
     * Logits for {@code n} images of plain pixels (row-major [n, C, H, W]), in eval mode and without
     * recording an autograd graph; no engine array escapes.
     */
    public float[][] logits(float[] pixels, int n) {
        try (NoGrad noGrad = NoGrad.enter(); NDManager scope = manager.newSubManager()) {
            NDArray x = scope.create(pixels, new Shape(n, spec.channels(), spec.height(), spec.imageWidth()));
            NDArray logits = forward(x, false);
            float[] flat = logits.toFloatArray();
            float[][] out = new float[n][spec.numClasses()];
            for (int i = 0; i < n; i++) {
                System.arraycopy(flat, i * spec.numClasses(), out[i], 0, spec.numClasses());
            }
            return out;
        }
    }

    private NDArray normalize(NDArray pixels) {
        long[] s = pixels.getShape().getShape();
        if (s.length != 4 || s[1] != spec.channels() || s[2] != spec.height() || s[3] != spec.imageWidth()) {
            throw new IllegalArgumentException("expected images [N, " + spec.channels() + ", " + spec.height() + ", "
                    + spec.imageWidth() + "], got " + pixels.getShape());
        }
        return pixels.sub(mean).div(std);
    }

    public ModelSpec spec() {
        return spec;
    }

    public Architecture architecture() {
        return architecture;
    }

    /** Parameters and buffers by PyTorch key: for algorithms that read or edit weights in place. */
    public Map<String, Parameter> parameters() {
        return network.parametersByTorchName();
    }

    /** The manager that owns the weights; algorithms open sub-managers of it for their scopes. */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
    }
}
