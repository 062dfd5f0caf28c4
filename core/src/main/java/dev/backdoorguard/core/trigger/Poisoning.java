package dev.backdoorguard.core.trigger;

import dev.backdoorguard.core.data.ImageDataset;
import java.util.Arrays;
import java.util.Random;

/**
 * All-to-one poisoning of a training set: {@code round(rate·N)} indices, drawn from all classes
 * (dirty-label: the trigger is applied and the label set to the target) or from the target class only
 * (clean-label triggers such as SIG: labels kept).
 */
public final class Poisoning {
    private Poisoning() {}

    /** The poisoned set and which of its items carry the trigger (sorted). */
    public record Result(ImageDataset dataset, int[] poisoned) {}

    public static Result poison(ImageDataset train, Trigger trigger, int target, double rate, long seed) {
        if (!(rate > 0 && rate <= 1)) {
            throw new IllegalArgumentException("poison rate must be in (0, 1], got " + rate);
        }
        if (target < 0 || target >= train.numClasses()) {
            throw new IllegalArgumentException("target class " + target + " is outside [0, " + train.numClasses() + ")");
        }
        int count = (int) Math.round(rate * train.size());
        int[] candidates;
        if (trigger.cleanLabel()) {
            candidates = java.util.stream.IntStream.range(0, train.size()).filter(i -> train.labels()[i] == target).toArray();
            if (count > candidates.length) {
                throw new IllegalArgumentException("clean-label trigger " + trigger.name() + ": poison rate " + rate
                        + " needs " + count + " images but target class " + target + " has " + candidates.length);
            }
        } else {
            candidates = java.util.stream.IntStream.range(0, train.size()).toArray();
        }
        Random random = new Random(dev.backdoorguard.core.Seeds.derive(seed, "poison"));
        for (int i = candidates.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = candidates[i];
            candidates[i] = candidates[j];
            candidates[j] = t;
        }
        int[] poisoned = Arrays.copyOf(candidates, count);
        Arrays.sort(poisoned);
        float[] pixels = train.pixels().clone();
        int[] labels = train.labels().clone();
        for (int i : poisoned) {
            trigger.apply(pixels, i * train.imageSize());
            if (!trigger.cleanLabel()) {
                labels[i] = target;
            }
        }
        return new Result(new ImageDataset(train.channels(), train.height(), train.width(), train.numClasses(),
                pixels, labels), poisoned);
    }
}
