package dev.backdoorguard.offline.purify.clp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.arch.ConvBnPair;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.bundle.SafeTensors;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** CLP against the reference formula and rule, computed by PyTorch on the parity bundles (tools/make_fixtures.py). */
class ClpPurifierTest {
    static final Path PARITY = Path.of("../core/src/test/resources/parity");

    @ParameterizedTest
    @ValueSource(strings = {"cnn-small", "resnet18"})
    void uclcAndPruningDecisionsMatchTheReference(String arch) throws Exception {
        Map<String, HostTensor> expected = SafeTensors.read(PARITY.resolve("training/uclc.safetensors"));
        Map<String, HostTensor> state = SafeTensors.read(PARITY.resolve(arch).resolve("weights.safetensors"));
        List<ConvBnPair> pairs = Architectures.standard().get(arch).convBnPairs();
        for (ConvBnPair pair : pairs) {
            HostTensor w = state.get(pair.conv() + ".weight");
            double[] actual = Uclc.scores(w.floats(), w.shape(), state.get(pair.bn() + ".weight").floats(),
                    state.get(pair.bn() + ".running_var").floats());
            HostTensor reference = expected.get("uclc64:" + arch + "/" + pair.conv());
            assertThat(reference).as(pair.conv()).isNotNull();
            // F64 values come back through the F32 reader: compare at float precision
            for (int k = 0; k < actual.length; k++) {
                assertThat(actual[k]).as(pair.conv() + "[" + k + "]")
                        .isCloseTo(reference.floats()[k], org.assertj.core.data.Percentage.withPercentage(1e-3));
            }
        }
        for (int u : new int[] {1, 3}) {
            for (ClpLayer layer : ClpPurifier.score(state, pairs, u)) {
                long[] ref = expected.get("pruned_u" + u + ":" + arch + "/" + layer.conv()).longs();
                assertThat(Arrays.stream(layer.pruned()).asLongStream().toArray()).as(layer.conv() + " u=" + u)
                        .containsExactly(ref);
            }
        }
    }

    @Test
    void pruningZeroesGammaAndBetaOnlyAndLeavesEverythingElseIdentical() throws Exception {
        try (Classifier model = Classifier.load(PARITY.resolve("cnn-small"), Architectures.standard())) {
            Map<String, HostTensor> before = model.stateDict();
            var report = new ClpPurifier(new ClpConfig(1)).purify(model, PurificationData.none());
            Map<String, HostTensor> after = model.stateDict();
            assertThat(report.details().get("pruned_channels").asInt()).isEqualTo(34); // 5 + 5 + 12 + 12 at u = 1
            List<ClpLayer> layers = ClpPurifier.score(before, model.architecture().convBnPairs(), 1);
            for (ClpLayer layer : layers) {
                for (int k : layer.pruned()) {
                    assertThat(after.get(layer.bn() + ".weight").floats()[k]).isZero();
                    assertThat(after.get(layer.bn() + ".bias").floats()[k]).isZero();
                }
            }
            int changed = 0;
            for (String key : before.keySet()) {
                float[] a = before.get(key).floats();
                float[] b = after.get(key).floats();
                for (int i = 0; i < a.length; i++) {
                    changed += a[i] != b[i] ? 1 : 0;
                }
                if (!key.endsWith(".weight") && !key.endsWith(".bias") || key.startsWith("classifier")
                        || key.equals("features.0.weight") || key.equals("features.0.bias")) {
                    assertThat(b).as(key + " untouched").isEqualTo(a);
                }
            }
            assertThat(changed).isEqualTo(2 * 34);
        }
    }

    @Test
    void samuelsonLimitMeansSmallLayersAreNeverPrunedAtU3() {
        double[] scores = new double[10];
        scores[9] = 1000; // the most extreme outlier possible still has z = (n-1)/sqrt(n) = 2.85 < 3
        ClpLayer layer = ClpPurifier.layer(new ConvBnPair("c", "b"), scores, 3);
        assertThat(layer.pruned()).isEmpty();
        assertThat(layer.maxZ()).isCloseTo(9 / Math.sqrt(10), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(ClpPurifier.layer(new ConvBnPair("c", "b"), scores, 2.5).pruned()).containsExactly(9);
    }

    @Test
    void invalidUIsRefused() {
        assertThatThrownBy(() -> new ClpConfig(-1)).hasMessageContaining("--u must be finite and >= 0");
        assertThatThrownBy(() -> new ClpConfig(Double.NaN)).hasMessageContaining("--u must be finite and >= 0");
        assertThat(new ClpConfig(0).u()).isZero();
    }

    @Test
    void largestEigenvalueOfKnownMatrices() {
        assertThat(Uclc.largestEigenvalue(new double[][] {{2, 1}, {1, 2}})).isCloseTo(3, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(Uclc.largestEigenvalue(new double[][] {{5}})).isEqualTo(5);
        assertThat(Uclc.largestEigenvalue(new double[][] {{1, 0, 0}, {0, 7, 0}, {0, 0, 3}})).isEqualTo(7);
    }
}
