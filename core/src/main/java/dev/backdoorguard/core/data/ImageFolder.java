package dev.backdoorguard.core.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * An image folder: one sub-folder per class (sorted by name; class k is the k-th), PNG or JPEG
 * files inside. All images must have the same size.
 */
public final class ImageFolder {
    private ImageFolder() {}

    public static ImageDataset read(Path root, int channels) throws IOException {
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(root)) {
            classDirs = s.filter(Files::isDirectory).sorted().toList();
        }
        if (classDirs.isEmpty()) {
            throw new DataException(root + ": image folder has no class sub-folders");
        }
        List<float[]> images = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int height = -1;
        int width = -1;
        for (int k = 0; k < classDirs.size(); k++) {
            List<Path> files;
            try (Stream<Path> s = Files.list(classDirs.get(k))) {
                files = s.filter(ImageFolder::isImage).sorted().toList();
            }
            for (Path f : files) {
                BufferedImage img = ImageIO.read(f.toFile());
                if (img == null) {
                    throw new DataException(f + ": not a readable PNG or JPEG image");
                }
                if (height < 0) {
                    height = img.getHeight();
                    width = img.getWidth();
                } else if (img.getHeight() != height || img.getWidth() != width) {
                    throw new DataException(f + ": is " + img.getWidth() + "x" + img.getHeight() + ", expected "
                            + width + "x" + height + " like the first image");
                }
                images.add(Pixels.fromImage(img, channels));
                labels.add(k);
            }
        }
        if (images.isEmpty()) {
            throw new DataException(root + ": image folder contains no PNG or JPEG images");
        }
        int size = channels * height * width;
        float[] pixels = new float[images.size() * size];
        for (int i = 0; i < images.size(); i++) {
            System.arraycopy(images.get(i), 0, pixels, i * size, size);
        }
        return new ImageDataset(channels, height, width, classDirs.size(), pixels,
                labels.stream().mapToInt(Integer::intValue).toArray());
    }

    private static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return Files.isRegularFile(p) && (n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg"));
    }
}
