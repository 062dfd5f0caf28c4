package dev.backdoorguard.core.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataTest {
    @TempDir Path tmp;

    private void writeIdx(Path dir, String prefix, int n, boolean gzip, int truncateBy) throws IOException {
        ByteBuffer images = ByteBuffer.allocate(16 + n * 4 * 4);
        images.putInt(0x803).putInt(n).putInt(4).putInt(4);
        for (int i = 0; i < n * 16; i++) {
            images.put((byte) (i * 7));
        }
        ByteBuffer labels = ByteBuffer.allocate(8 + n).putInt(0x801).putInt(n);
        for (int i = 0; i < n; i++) {
            labels.put((byte) (i % 3));
        }
        write(dir.resolve(prefix + "-images-idx3-ubyte" + (gzip ? ".gz" : "")), images.array(), gzip, truncateBy);
        write(dir.resolve(prefix + "-labels-idx1-ubyte" + (gzip ? ".gz" : "")), labels.array(), gzip, 0);
    }

    private static void write(Path p, byte[] bytes, boolean gzip, int truncateBy) throws IOException {
        byte[] body = java.util.Arrays.copyOf(bytes, bytes.length - truncateBy);
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(p)) : Files.newOutputStream(p)) {
            out.write(body);
        }
    }

    @Test
    void readsGzipAndRawIdx() throws IOException {
        writeIdx(tmp, "train", 6, true, 0);
        writeIdx(tmp, "t10k", 5, false, 0);
        ImageDataset train = Datasets.load(tmp, Datasets.Split.TRAIN, 3);
        ImageDataset test = Datasets.load(tmp, Datasets.Split.TEST, 3);
        assertThat(train.size()).isEqualTo(6);
        assertThat(test.size()).isEqualTo(5);
        assertThat(train.shape()).containsExactly(1, 4, 4);
        assertThat(train.pixels()[1]).isEqualTo(7 / 255f);
        assertThat(train.labels()).containsExactly(0, 1, 2, 0, 1, 2);
    }

    @Test
    void truncatedOrForeignFilesAreNamed() throws IOException {
        writeIdx(tmp, "train", 6, true, 10);
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TRAIN, 3))
                .isInstanceOf(DataException.class).hasMessageContaining("truncated");
        Files.write(tmp.resolve("train-images-idx3-ubyte.gz"), new byte[] {0x1f, (byte) 0x8b});
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TRAIN, 3)).isInstanceOf(IOException.class);
        Files.delete(tmp.resolve("train-images-idx3-ubyte.gz"));
        Files.write(tmp.resolve("train-images-idx3-ubyte"), new byte[] {0, 0, 9, 9, 0, 0, 0, 1});
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TRAIN, 3)).hasMessageContaining("not an IDX image file");
    }

    @Test
    void missingOrEmptyDirectoriesSayWhatToDo() throws IOException {
        assertThatThrownBy(() -> Datasets.load(tmp.resolve("none"), Datasets.Split.TRAIN, 10))
                .hasMessageContaining("data directory not found").hasMessageContaining("GUARD_DATA_DIR");
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TRAIN, 10)).hasMessageContaining("no train-images");
        Files.createDirectories(tmp.resolve("train"));
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TRAIN, 10)).hasMessageContaining("no class sub-folders");
    }

    @Test
    void directoryResolutionPrefersOptionThenEnvironment() {
        assertThat(Datasets.resolveDirectory(Path.of("/x"), Map.of("GUARD_DATA_DIR", "/y"))).isEqualTo(Path.of("/x"));
        assertThat(Datasets.resolveDirectory(null, Map.of("GUARD_DATA_DIR", "/y"))).isEqualTo(Path.of("/y"));
        assertThat(Datasets.resolveDirectory(null, Map.of())).isEqualTo(Datasets.DEBIAN_FASHION_MNIST);
    }

    @Test
    void readsImageFolders() throws IOException {
        for (String cls : new String[] {"a", "b"}) {
            Files.createDirectories(tmp.resolve("test").resolve(cls));
            java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
            img.getRaster().setSample(1, 2, 0, cls.equals("a") ? 255 : 51);
            javax.imageio.ImageIO.write(img, "png", tmp.resolve("test").resolve(cls).resolve("x.png").toFile());
        }
        ImageDataset ds = Datasets.load(tmp, Datasets.Split.TEST, 2);
        assertThat(ds.labels()).containsExactly(0, 1);
        assertThat(ds.pixels()[2 * 4 + 1]).isEqualTo(1f);
        assertThat(ds.pixels()[16 + 2 * 4 + 1]).isEqualTo(0.2f);
    }

    @Test
    void classBalancedSubsetsAreSeededDisjointAndBalanced() {
        int[] labels = new int[300];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 3;
        }
        Subsets.Split a = Subsets.classBalanced(labels, 3, 10, 5);
        Subsets.Split b = Subsets.classBalanced(labels, 3, 10, 5);
        assertThat(a.selected()).isEqualTo(b.selected()).hasSize(30).isSorted();
        assertThat(a.rest()).hasSize(270).doesNotContain(a.selected());
        assertThat(Subsets.classBalanced(labels, 3, 10, 6).selected()).isNotEqualTo(a.selected());
        int[] perClass = new int[3];
        for (int i : a.selected()) {
            perClass[labels[i]]++;
        }
        assertThat(perClass).containsExactly(10, 10, 10);
        assertThatThrownBy(() -> Subsets.classBalanced(labels, 3, 101, 1)).hasMessageContaining("class 0 has only 100");
        assertThat(Subsets.perClassFor(0.02, 60000, 10)).isEqualTo(120);
        assertThatThrownBy(() -> Subsets.perClassFor(0.00001, 60000, 10)).hasMessageContaining("fewer than one image");
        assertThatThrownBy(() -> Subsets.perClassFor(1.5, 60000, 10)).hasMessageContaining("(0, 1]");
    }

    @Test
    void augmentationCropsWithZeroPaddingAndFlips() {
        float[] src = new float[9];
        for (int i = 0; i < 9; i++) {
            src[i] = i + 1;
        }
        float[] dst = new float[9];
        Augmentation.NONE.apply(src, 0, dst, 0, 1, 3, 3, new Random(1));
        assertThat(dst).isEqualTo(src);
        Augmentation pad = new Augmentation(1, true);
        Random r = new Random(3);
        boolean sawShift = false;
        for (int trial = 0; trial < 50; trial++) {
            pad.apply(src, 0, dst, 0, 1, 3, 3, r);
            float sum = 0;
            for (float v : dst) {
                sum += v;
                assertThat(v).isBetween(0f, 9f);
            }
            sawShift |= sum != 45f;
        }
        assertThat(sawShift).isTrue();
    }
}
