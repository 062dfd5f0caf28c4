package dev.backdoorguard.core.trigger;

/**
 * A backdoor trigger in pixel space: transforms one [C, H, W] image in [0, 1] in place, clipped to
 * [0, 1]. Triggers are applied before augmentation and normalisation (DESIGN.md §5).
 */
public interface Trigger {
    /** The trigger's name as the command line spells it: badnets, blended, wanet, sig. */
    String name();

    /** True when only target-class images are poisoned and their labels kept (SIG). */
    default boolean cleanLabel() {
        return false;
    }

    /** Applies the trigger to the image of {@code pixels} starting at {@code offset}. */
    void apply(float[] pixels, int offset);

    /** A triggered copy of {@code count} consecutive images starting at image {@code first}. */
    default float[] applied(float[] pixels, int first, int count, int imageSize) {
        float[] out = new float[count * imageSize];
        System.arraycopy(pixels, first * imageSize, out, 0, out.length);
        for (int i = 0; i < count; i++) {
            apply(out, i * imageSize);
        }
        return out;
    }
}
