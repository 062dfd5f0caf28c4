package dev.backdoorguard.core.arch;

import dev.backdoorguard.core.bundle.ModelSpec;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The one registry of architectures. Adding an architecture means registering it here (or in a
 * registry built with {@link #with}); purifiers, the detector and the server only see
 * {@link Architecture}.
 */
public final class Architectures {
    private final Map<String, Architecture> byName;

    private Architectures(Map<String, Architecture> byName) {
        this.byName = Collections.unmodifiableMap(byName);
    }

    /** cnn-small, preact-resnet18 and resnet18. */
    public static Architectures standard() {
        Map<String, Architecture> m = new LinkedHashMap<>();
        m.put("cnn-small", new Architecture("cnn-small", CnnSmall.TAPS, CnnSmall.PAIRS, CnnSmall.HEAD,
                spec -> CnnSmall.HEAD_INPUTS, spec -> new CnnSmall(spec.channels(), spec.numClasses())));
        m.put("preact-resnet18", new Architecture("preact-resnet18", PreActResNet18.taps(), PreActResNet18.pairs(),
                "linear", spec -> 8 * spec.widthOrDefault(),
                spec -> new PreActResNet18(spec.channels(), spec.numClasses(), spec.widthOrDefault())));
        m.put("resnet18", new Architecture("resnet18", ResNet18.taps(), ResNet18.pairs(), "linear",
                spec -> 8 * spec.widthOrDefault(),
                spec -> new ResNet18(spec.channels(), spec.numClasses(), spec.widthOrDefault())));
        return new Architectures(m);
    }

    /**
     * A registry with one more architecture. Its forward pass must not write an offered tap again (no
     * in-place operation after {@link TapRecorder#offer}): the detector reads small batches' taps after
     * the pass.
     */
    public Architectures with(Architecture architecture) {
        Map<String, Architecture> m = new LinkedHashMap<>(byName);
        m.put(architecture.name(), architecture);
        return new Architectures(m);
    }

    public Architecture get(String name) {
        Architecture a = byName.get(name);
        if (a == null) {
            throw new IllegalArgumentException("unknown architecture '" + name + "' (known: "
                    + String.join(", ", byName.keySet()) + ")");
        }
        return a;
    }

    public Set<String> names() {
        return byName.keySet();
    }

    /** Checks that {@code spec} names a registered architecture and fits it. */
    public Architecture forSpec(ModelSpec spec) {
        Architecture a = get(spec.architecture());
        if (spec.height() < 4 || spec.imageWidth() < 4) {
            throw new IllegalArgumentException(a.name() + " needs images of at least 4x4, input_shape is "
                    + java.util.Arrays.toString(spec.inputShape()));
        }
        return a;
    }
}
