package dev.backdoorguard.client;

import java.util.Optional;

/**
 * The answer for one item of a batch.
 *
 * @param index the item's position in the request
 * @param label the predicted class index
 * @param labelName the class name when the caller supplied names, else null
 * @param probabilities softmax probabilities per class (empty if the server did not return them)
 * @param guardScore the detector's score, NaN when the server returned none (guard off or no detector)
 * @param flagged whether the detector flagged the item
 */
public record ItemResult(
        int index, int label, String labelName, float[] probabilities, double guardScore, boolean flagged) {

    public ItemResult {
        probabilities = probabilities.clone();
    }

    /** The probability of the predicted class, NaN if unknown. */
    public double probability() {
        return label >= 0 && label < probabilities.length ? probabilities[label] : Double.NaN;
    }

    /** The class name, or the index as text when names are unknown. */
    public String labelText() {
        return labelName != null ? labelName : Integer.toString(label);
    }

    /** The guard score, if the server returned one. */
    public Optional<Double> score() {
        return Double.isNaN(guardScore) ? Optional.empty() : Optional.of(guardScore);
    }

    @Override
    public float[] probabilities() {
        return probabilities.clone();
    }
}
