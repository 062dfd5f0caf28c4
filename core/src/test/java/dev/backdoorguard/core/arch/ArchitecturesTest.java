package dev.backdoorguard.core.arch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.backdoorguard.core.TestModels;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.model.NoGrad;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ArchitecturesTest {
    private final Architectures registry = Architectures.standard();

    @ParameterizedTest
    @ValueSource(strings = {"cnn-small", "preact-resnet18", "resnet18"})
    void everyDeclaredTapIsProducedByOneForwardPass(String name) {
        Architecture arch = registry.get(name);
        try (Classifier c = Classifier.create(TestModels.fashion(name, name.equals("cnn-small") ? null : 4), registry, 1);
                NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(0, 1, new Shape(2, 1, 28, 28));
            NDList out = c.forwardWithTaps(x, false, arch.taps());
            assertThat(out.size()).isEqualTo(arch.taps().size() + 1);
            assertThat(out.get(0).getShape()).isEqualTo(new Shape(2, 10));
            for (int i = 0; i < arch.taps().size(); i++) {
                assertThat(out.get(i + 1).getName()).isEqualTo(arch.taps().get(i));
                assertThat(out.get(i + 1).getShape().get(0)).isEqualTo(2);
            }
        }
    }

    static Stream<String> standardArchitectures() {
        return Architectures.standard().names().stream().sorted();
    }

    /** The TapRecorder contract the detector's heap path relies on: it reads the taps after the pass. */
    @ParameterizedTest
    @MethodSource("standardArchitectures")
    void noOfferedActivationIsWrittenAgainByTheRestOfTheInferencePass(String name) {
        Architecture arch = registry.get(name);
        // width 4 keeps the ResNets tiny (cnn-small has no width)
        try (Classifier c = Classifier.create(TestModels.fashion(name, name.equals("cnn-small") ? null : 4), registry, 1);
                NoGrad noGrad = NoGrad.enter(); NDManager m = c.manager().newSubManager()) {
            NDArray x = m.randomUniform(0, 1, new Shape(2, 1, 28, 28));
            Map<String, float[]> atOffer = new LinkedHashMap<>();
            Map<String, NDArray> offered = new LinkedHashMap<>();
            c.forward(x, false, (tap, activation) -> {
                atOffer.put(tap, activation.toFloatArray());
                offered.put(tap, activation);
            });
            assertThat(offered.keySet()).containsAll(arch.taps());
            offered.forEach((tap, activation) ->
                    assertThat(activation.toFloatArray()).as(tap).containsExactly(atOffer.get(tap)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cnn-small", "preact-resnet18", "resnet18"})
    void declaredConvBnPairsExistAndAgreeOnChannels(String name) {
        Architecture arch = registry.get(name);
        try (Classifier c = Classifier.create(TestModels.fashion(name, name.equals("cnn-small") ? null : 4), registry, 1)) {
            for (ConvBnPair pair : arch.convBnPairs()) {
                long out = c.parameters().get(pair.conv() + ".weight").getArray().getShape().get(0);
                long features = c.parameters().get(pair.bn() + ".weight").getArray().getShape().get(0);
                assertThat(out).as(pair.toString()).isEqualTo(features);
            }
            assertThat(c.parameters()).containsKey(arch.head() + ".weight");
            assertThat(c.parameters().get(arch.head() + ".weight").getArray().getShape().get(1))
                    .isEqualTo(arch.headInputs().apply(c.spec()).longValue());
        }
    }

    @Test
    void pairCountsFollowDesign() {
        assertThat(registry.get("cnn-small").convBnPairs()).hasSize(4);
        assertThat(registry.get("preact-resnet18").convBnPairs()).hasSize(8);
        assertThat(registry.get("resnet18").convBnPairs()).hasSize(20);
    }

    @Test
    void cnnSmallHasThePyTorchStateDictKeys() {
        try (Classifier c = Classifier.create(TestModels.fashion("cnn-small", null), registry, 1)) {
            assertThat(c.parameters().keySet()).containsExactlyInAnyOrderElementsOf(Set.of(
                    "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                    "features.1.running_mean", "features.1.running_var", "features.3.weight", "features.3.bias",
                    "features.4.weight", "features.4.bias", "features.4.running_mean", "features.4.running_var",
                    "features.7.weight", "features.7.bias", "features.8.weight", "features.8.bias",
                    "features.8.running_mean", "features.8.running_var", "features.10.weight", "features.10.bias",
                    "features.11.weight", "features.11.bias", "features.11.running_mean", "features.11.running_var",
                    "classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"));
            long count = c.parameters().values().stream()
                    .filter(p -> !p.getName().contains("running"))
                    .mapToLong(p -> p.getArray().size()).sum();
            assertThat(count).isEqualTo(74_986); // the figure in specs/clp-fst.md §9.1
        }
    }

    @Test
    void initialisationIsPyTorchsDefault() {
        try (Classifier c = Classifier.create(TestModels.fashion("cnn-small", null), registry, 1)) {
            // kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)); std = bound / sqrt(3)
            for (String name : new String[] {"features.0.weight", "features.10.weight", "classifier.0.weight"}) {
                float[] w = c.parameters().get(name).getArray().toFloatArray();
                long[] shape = c.parameters().get(name).getArray().getShape().getShape();
                long fanIn = w.length / shape[0];
                double bound = 1 / Math.sqrt(fanIn);
                double sq = 0;
                for (float v : w) {
                    assertThat(Math.abs(v)).as(name).isLessThanOrEqualTo((float) bound);
                    sq += v * v;
                }
                assertThat(Math.sqrt(sq / w.length)).as(name + " std").isCloseTo(bound / Math.sqrt(3),
                        org.assertj.core.data.Offset.offset(0.1 * bound));
            }
            assertThat(c.parameters().get("features.1.weight").getArray().toFloatArray()).containsOnly(1f);
            assertThat(c.parameters().get("features.1.running_var").getArray().toFloatArray()).containsOnly(1f);
        }
    }

    @Test
    void unknownArchitectureNamesTheKnownOnes() {
        assertThatThrownBy(() -> registry.get("vgg"))
                .hasMessageContaining("unknown architecture 'vgg'")
                .hasMessageContaining("cnn-small");
    }
}
