package dev.backdoorguard.core.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Seeded, class-balanced subsets: the defender's clean data (DESIGN.md §5). */
public final class Subsets {
    private Subsets() {}

    /** A class-balanced subset and what is left of the data set. */
    public record Split(int[] selected, int[] rest) {}

    /** Images per class for a fraction of the data set, rounded; at least one image per class is required. */
    public static int perClassFor(double fraction, int size, int numClasses) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("clean fraction must be in (0, 1], got " + fraction);
        }
        int perClass = (int) Math.round(fraction * size / numClasses);
        if (perClass < 1) {
            throw new IllegalArgumentException("clean fraction " + fraction + " of " + size + " images gives fewer than"
                    + " one image per class (" + numClasses + " classes)");
        }
        return perClass;
    }

    /**
     * Draws {@code perClass} indices of every class (seeded), returned sorted, and the remaining
     * indices. Fails naming the class when a class has too few images.
     */
    public static Split classBalanced(int[] labels, int numClasses, int perClass, long seed) {
        List<List<Integer>> byClass = new ArrayList<>();
        for (int k = 0; k < numClasses; k++) {
            byClass.add(new ArrayList<>());
        }
        for (int i = 0; i < labels.length; i++) {
            byClass.get(labels[i]).add(i);
        }
        Random random = new Random(dev.backdoorguard.core.Seeds.derive(seed, "class-balanced-subset"));
        boolean[] chosen = new boolean[labels.length];
        for (int k = 0; k < numClasses; k++) {
            List<Integer> members = byClass.get(k);
            if (members.size() < perClass) {
                throw new IllegalArgumentException("class " + k + " has only " + members.size() + " images, "
                        + perClass + " requested per class");
            }
            java.util.Collections.shuffle(members, random);
            for (int j = 0; j < perClass; j++) {
                chosen[members.get(j)] = true;
            }
        }
        int[] selected = new int[perClass * numClasses];
        int[] rest = new int[labels.length - selected.length];
        int s = 0;
        int r = 0;
        for (int i = 0; i < labels.length; i++) {
            if (chosen[i]) {
                selected[s++] = i;
            } else {
                rest[r++] = i;
            }
        }
        return new Split(selected, rest);
    }

    /** A hash of an index set, for reports (which clean images a run used). */
    public static String indicesHash(int[] indices) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(indices.length * 4);
        buf.asIntBuffer().put(indices);
        return dev.backdoorguard.core.bundle.Bundles.sha256(buf.array());
    }
}
