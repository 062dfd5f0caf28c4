package dev.backdoorguard.offline.purify.clp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.backdoorguard.core.arch.ConvBnPair;
import dev.backdoorguard.core.bundle.BundleException;
import dev.backdoorguard.core.bundle.HostTensor;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.offline.purify.PurificationData;
import dev.backdoorguard.offline.purify.PurificationReport;
import dev.backdoorguard.offline.purify.Purifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Channel Lipschitzness-based Pruning (ECCV 2022), data-free: for every conv→BN pair the
 * architecture declares, score the channels by UCLC, and zero BN γ and β of every channel whose score
 * exceeds mean + u·std (unbiased) of its own layer. All layers are scored on the original weights.
 */
public final class ClpPurifier implements Purifier {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ClpConfig config;

    public ClpPurifier(ClpConfig config) {
        this.config = config;
    }

    @Override
    public String name() {
        return "clp";
    }

    /** Scores every declared pair of {@code state} (plain weights; nothing is changed). */
    public static List<ClpLayer> score(Map<String, HostTensor> state, List<ConvBnPair> pairs, double u) {
        List<ClpLayer> layers = new ArrayList<>();
        for (ConvBnPair pair : pairs) {
            HostTensor w = state.get(pair.conv() + ".weight");
            HostTensor gamma = state.get(pair.bn() + ".weight");
            HostTensor var = state.get(pair.bn() + ".running_var");
            if (w == null || gamma == null || var == null || w.shape().length != 4 || w.shape()[0] != gamma.size()) {
                throw new IllegalStateException("declared CLP pair " + pair + " does not match the weights");
            }
            double[] s = Uclc.scores(w.floats(), w.shape(), gamma.floats(), var.floats());
            layers.add(layer(pair, s, u));
        }
        return layers;
    }

    static ClpLayer layer(ConvBnPair pair, double[] scores, double u) {
        int n = scores.length;
        double mean = 0;
        for (double v : scores) {
            mean += v;
        }
        mean /= n;
        double ss = 0;
        for (double v : scores) {
            ss += (v - mean) * (v - mean);
        }
        double std = n > 1 ? Math.sqrt(ss / (n - 1)) : Double.NaN;
        double threshold = mean + u * std;
        List<Integer> pruned = new ArrayList<>();
        double maxZ = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            if (scores[k] > threshold) { // strict, as the reference; NaN thresholds prune nothing
                pruned.add(k);
            }
            maxZ = Math.max(maxZ, (scores[k] - mean) / std);
        }
        boolean nonFinite = !Double.isFinite(threshold);
        return new ClpLayer(pair.conv(), pair.bn(), n, mean, std, threshold, maxZ,
                pruned.stream().mapToInt(Integer::intValue).toArray(), nonFinite);
    }

    @Override
    public PurificationReport purify(Classifier model, PurificationData data) {
        List<ConvBnPair> pairs = model.architecture().convBnPairs();
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("architecture " + model.architecture().name()
                    + " declares no conv->BN pairs: CLP cannot score it");
        }
        Map<String, HostTensor> state = model.stateDict();
        List<ClpLayer> layers = score(state, pairs, config.u());
        int total = 0;
        for (ClpLayer layer : layers) {
            float[] gamma = state.get(layer.bn() + ".weight").floats();
            float[] beta = state.get(layer.bn() + ".bias").floats();
            for (int k : layer.pruned()) {
                gamma[k] = 0f;
                beta[k] = 0f;
            }
            total += layer.pruned().length;
        }
        try {
            model.loadStateDict(state, "CLP-pruned weights");
        } catch (BundleException e) {
            throw new IllegalStateException(e);
        }
        ObjectNode cfg = JSON.createObjectNode().put("u", config.u()).put("std", "unbiased (n - 1)")
                .put("eps", "none (running_var.sqrt())");
        ObjectNode details = JSON.createObjectNode();
        details.put("pruned_channels", total);
        ArrayNode table = details.putArray("layers");
        for (ClpLayer l : layers) {
            ObjectNode row = table.addObject();
            row.put("conv", l.conv()).put("bn", l.bn()).put("channels", l.channels()).put("mean", l.mean())
                    .put("std", l.std()).put("threshold", l.threshold()).put("max_z", l.maxZ())
                    .put("samuelson_max_z", (l.channels() - 1) / Math.sqrt(l.channels()));
            ArrayNode pruned = row.putArray("pruned");
            for (int k : l.pruned()) {
                pruned.add(k);
            }
            if (l.nonFinite()) {
                row.put("warning", "non-finite UCLC statistics (running_var 0?): nothing pruned in this layer");
            }
        }
        return new PurificationReport(name(), cfg, details,
                String.format("CLP u=%.2f pruned %d channels in %d layers", config.u(), total, layers.size()));
    }
}
