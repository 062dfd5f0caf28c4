package dev.backdoorguard.core.trigger;

import dev.backdoorguard.core.data.Pixels;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Builds the project's triggers (DESIGN.md §5) for an image shape, seeded and reproducible. */
public final class Triggers {
    public static final List<String> NAMES = List.of("badnets", "blended", "wanet", "sig");
    public static final long DEFAULT_SEED = 0;

    private Triggers() {}

    /**
     * @param name badnets, blended, wanet or sig
     * @param seed seeds the blended noise and the WaNet field
     * @param patternImage optional user image for blended (resized nearest-neighbour to H×W)
     * @param shape C, H, W
     */
    public static Trigger create(String name, long seed, Path patternImage, int[] shape) throws IOException {
        int c = shape[0];
        int h = shape[1];
        int w = shape[2];
        if (patternImage != null && !"blended".equals(name) && NAMES.contains(name)) {
            throw new IllegalArgumentException("a trigger image applies to the blended trigger only, not to '" + name
                    + "'");
        }
        switch (name == null ? "" : name) {
            case "badnets":
                return new BadNets(c, h, w);
            case "blended":
                return new Blended(0.2f, patternImage == null ? Blended.noise(seed, c * h * w) : pattern(patternImage, shape));
            case "wanet":
                return new WaNet(c, h, w, seed, 4, 0.5f);
            case "sig":
                return new Sig(c, h, w, Sig.DEFAULT_AMPLITUDE, Sig.DEFAULT_FREQUENCY);
            default:
                throw new IllegalArgumentException("unknown trigger '" + name + "' (known: " + String.join(", ", NAMES)
                        + ")");
        }
    }

    private static float[] pattern(Path file, int[] shape) throws IOException {
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new IOException(file + (java.nio.file.Files.isDirectory(file) ? ": a directory, not a trigger image file"
                    : ": no such trigger image file"));
        }
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": cannot read the trigger image (" + e.getMessage() + ")", e);
        }
        if (img == null) {
            throw new IOException(file + ": not a readable PNG or JPEG image");
        }
        BufferedImage resized = new BufferedImage(shape[2], shape[1], BufferedImage.TYPE_INT_RGB);
        resized.getGraphics().drawImage(img, 0, 0, shape[2], shape[1], null);
        return Pixels.fromImage(resized, shape[0]);
    }
}
