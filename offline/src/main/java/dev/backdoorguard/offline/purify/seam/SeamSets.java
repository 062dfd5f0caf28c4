package dev.backdoorguard.offline.purify.seam;

import dev.backdoorguard.core.Seeds;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.offline.purify.PurificationData;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * SEAM's three image sets, all from the defender's clean data: a held-out share for the stop rules
 * (never trained on, always disjoint from the others), the recovery set and the small forget set.
 * By default the recovery set is the rest and the forget set is drawn from it, without replacement.
 * With replacement (the reference's {@code utils.split_dataset}, spec B.9 item 6) both are drawn
 * class-balanced, independently and with replacement from the rest, the recovery set as large as the
 * rest: images can repeat, some are left out, and the two sets can overlap. Indices are positions in
 * the training split, sorted (with repeats when drawn with replacement).
 */
public record SeamSets(ImageDataset holdout, int[] holdoutIndices, ImageDataset recovery, int[] recoveryIndices,
        ImageDataset forget, int[] forgetIndices) {

    public static SeamSets split(PurificationData data, double holdoutFraction, double forgetFraction,
            boolean withReplacement, long seed) {
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
        ImageDataset rest = clean.subset(held.rest());
        int[] restIndices = positions(data.indices(), held.rest());
        int[] recoveryInRest;
        int[] forgetInRest;
        if (withReplacement) {
            recoveryInRest = withReplacement(rest.labels(), k, recoveryPerClass, Seeds.derive(seed, "seam-recovery"));
            forgetInRest = withReplacement(rest.labels(), k, forgetPerClass, Seeds.derive(seed, "seam-forget"));
        } else {
            recoveryInRest = IntStream.range(0, rest.size()).toArray();
            forgetInRest = Subsets.classBalanced(rest.labels(), k, forgetPerClass, Seeds.derive(seed, "seam-forget"))
                    .selected();
        }
        int[] holdoutIndices = positions(data.indices(), held.selected());
        int[] recoveryIndices = positions(restIndices, recoveryInRest);
        int[] forgetIndices = positions(restIndices, forgetInRest);
        if (Arrays.stream(holdoutIndices).anyMatch(i -> Arrays.binarySearch(recoveryIndices, i) >= 0
                || Arrays.binarySearch(forgetIndices, i) >= 0)) {
            throw new IllegalStateException("the held-out set overlaps another set"); // a bug: it is split off first
        }
        return new SeamSets(clean.subset(held.selected()), holdoutIndices, rest.subset(recoveryInRest),
                recoveryIndices, rest.subset(forgetInRest), forgetIndices);
    }

    /** {@code perClass} draws per class with replacement (numpy's {@code choice} default), sorted. */
    private static int[] withReplacement(int[] labels, int numClasses, int perClass, long seed) {
        Random random = new Random(seed);
        int[] out = new int[numClasses * perClass];
        int n = 0;
        for (int c = 0; c < numClasses; c++) {
            final int cls = c;
            int[] members = IntStream.range(0, labels.length).filter(i -> labels[i] == cls).toArray();
            for (int j = 0; j < perClass; j++) {
                out[n++] = members[random.nextInt(members.length)];
            }
        }
        Arrays.sort(out);
        return out;
    }

    /** Maps positions within a subset back to training-split indices (both sorted, so the result is). */
    private static int[] positions(int[] source, int[] selected) {
        return Arrays.stream(selected).map(i -> source[i]).toArray();
    }
}
