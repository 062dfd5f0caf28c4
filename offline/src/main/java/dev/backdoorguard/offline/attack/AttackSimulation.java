package dev.backdoorguard.offline.attack;

import dev.backdoorguard.core.arch.Architectures;
import dev.backdoorguard.core.bundle.ModelSpec;
import dev.backdoorguard.core.data.ImageDataset;
import dev.backdoorguard.core.data.Subsets;
import dev.backdoorguard.core.eval.AttackMetrics;
import dev.backdoorguard.core.eval.Evaluator;
import dev.backdoorguard.core.model.Classifier;
import dev.backdoorguard.core.trigger.Poisoning;
import dev.backdoorguard.core.trigger.Trigger;
import dev.backdoorguard.offline.train.TrainingConfig;
import dev.backdoorguard.offline.train.TrainingLoop;
import java.util.Arrays;
import java.util.List;

/**
 * Trains a backdoored model the way the specs' protocol does (specs/clp-fst.md §9.2): the defender's
 * class-balanced clean set is removed from the training set first, then {@code round(rate·N)} of the
 * attacker's images are poisoned, all-to-one; the trigger is baked in before augmentation.
 */
public final class AttackSimulation {
    /** What to simulate. {@code maxTrain} > 0 caps the attacker's set (quick runs and tests). */
    public record Settings(
            String architecture, Integer width, double poisonRate, int target, double cleanFraction, int maxTrain,
            TrainingConfig training) {}

    /** The trained model (owned by the caller), its metrics, and the provenance of its data. */
    public record Outcome(
            Classifier model, AttackMetrics metrics, List<TrainingLoop.Epoch> epochs, int attackerImages,
            int[] poisoned, int[] defenderIndices, double wallSeconds) {}

    private final Architectures registry;

    public AttackSimulation(Architectures registry) {
        this.registry = registry;
    }

    public Outcome run(Settings s, ImageDataset train, ImageDataset test, Trigger trigger, TrainingLoop.Listener listener) {
        long start = System.nanoTime();
        if (s.target() < 0 || s.target() >= train.numClasses()) {
            throw new IllegalArgumentException("target class " + s.target() + " is outside [0, " + train.numClasses()
                    + ")");
        }
        int perClass = Subsets.perClassFor(s.cleanFraction(), train.size(), train.numClasses());
        Subsets.Split split = Subsets.classBalanced(train.labels(), train.numClasses(), perClass, s.training().seed());
        int[] attackerIndices = split.rest();
        if (s.maxTrain() > 0 && s.maxTrain() < attackerIndices.length) {
            attackerIndices = Arrays.copyOf(attackerIndices, s.maxTrain());
        }
        ImageDataset attacker = train.subset(attackerIndices);
        Poisoning.Result poisoned = Poisoning.poison(attacker, trigger, s.target(), s.poisonRate(), s.training().seed());
        ModelSpec spec = new ModelSpec(s.architecture(), train.shape(), train.numClasses(),
                Normalization.mean(attacker), Normalization.std(attacker), labelsFor(train.numClasses()), s.width(), null);
        Classifier model = Classifier.create(spec, registry, s.training().seed());
        try {
            List<TrainingLoop.Epoch> epochs = new TrainingLoop(s.training()).train(model, poisoned.dataset(), listener);
            AttackMetrics metrics = new Evaluator(Evaluator.DEFAULT_BATCH).evaluate(model, test, trigger, s.target());
            return new Outcome(model, metrics, epochs, attacker.size(), poisoned.poisoned(), split.selected(),
                    (System.nanoTime() - start) / 1e9);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Fashion-MNIST's class names when there are 10 classes, else none (numbers are shown). */
    static List<String> labelsFor(int numClasses) {
        return numClasses == 10
                ? List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                        "Ankle boot")
                : List.of();
    }
}
