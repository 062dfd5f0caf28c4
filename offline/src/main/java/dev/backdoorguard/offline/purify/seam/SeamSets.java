package dev.backdoorguard.offline.purify.seam;

import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.offline.purify.PurificationData;
import java.util.Arrays;

/**
 * SEAM's three image sets, all from the defender's clean data and without replacement: a held-out
 * share for the stop rules (never trained on), the recovery set (the rest), and the small forget
 * set drawn from the recovery set (the reference's sets may overlap too; only the held-out set must not).
 * Indices are positions in the training split.
 */
public record SeamSets(ImageDataset holdout, int[] holdoutIndices, ImageDataset recovery, int[] recoveryIndices,
        ImageDataset forget, int[] forgetIndices) {

    public static SeamSets split(PurificationData data, double holdoutFraction, double forgetFraction, long seed) {
        ImageDataset clean = data.clean();
        int k = clean.numClasses();
        int perClass = Arrays.stream(clean.classCounts()).min().orElse(0);
        int holdoutPerClass = (int) Math.round(holdoutFraction * perClass);
        if (holdoutPerClass < 1) {
            throw new IllegalArgumentException("--holdout-fraction " + holdoutFraction + " of " + perClass
                    + " clean images per class holds out fewer than one image per class; raise it or --clean-fraction");
        }
        if (holdoutPerClass >= perClass) {
            throw new IllegalArgumentException("--holdout-fraction " + holdoutFraction + " holds out all " + perClass
                    + " clean images per class: the recovery set would be empty or overlap the held-out set");
        }
        int forgetPerClass;
        try {
            forgetPerClass = Subsets.perClassFor(forgetFraction, data.sourceSize(), k);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--forget-fraction " + forgetFraction + " of " + data.sourceSize()
                    + " training images gives fewer than one image per class (" + k + " classes)");
        }
        int recoveryPerClass = perClass - holdoutPerClass;
        if (forgetPerClass > recoveryPerClass) {
            throw new IllegalArgumentException("--forget-fraction " + forgetFraction + " needs " + forgetPerClass
                    + " images per class but the recovery set has " + recoveryPerClass + " per class; raise"
                    + " --clean-fraction or lower --forget-fraction");
        }
        Subsets.Split held = Subsets.classBalanced(clean.labels(), k, holdoutPerClass, Seeds.derive(seed, "seam-holdout"));
        ImageDataset recovery = clean.subset(held.rest());
        Subsets.Split forget = Subsets.classBalanced(recovery.labels(), k, forgetPerClass,
                Seeds.derive(seed, "seam-forget"));
        int[] holdoutIndices = positions(data.indices(), held.selected());
        int[] recoveryIndices = positions(data.indices(), held.rest());
        if (Arrays.stream(holdoutIndices).anyMatch(i -> Arrays.binarySearch(recoveryIndices, i) >= 0)) {
            throw new IllegalStateException("held-out and recovery sets overlap"); // a bug: the split is disjoint
        }
        return new SeamSets(clean.subset(held.selected()), holdoutIndices, recovery, recoveryIndices,
                recovery.subset(forget.selected()), positions(recoveryIndices, forget.selected()));
    }

    /** Maps positions within a subset back to training-split indices (both sorted, so the result is). */
    private static int[] positions(int[] source, int[] selected) {
        return Arrays.stream(selected).map(i -> source[i]).toArray();
    }
}
