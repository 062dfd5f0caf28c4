package dev.backdoorguard.client.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX reader against the real Fashion-MNIST test set (Debian's dataset-fashion-mnist), gzip and raw. */
class IdxImagesTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");

    @Test
    void readsTheFashionMnistTestSet() throws IOException {
        IdxImages test = IdxImages.testSet(FASHION);

        assertThat(test.count()).isEqualTo(10_000);
        assertThat(test.rows()).isEqualTo(28);
        assertThat(test.cols()).isEqualTo(28);
        int[] perClass = new int[10];
        for (int i = 0; i < test.count(); i++) {
            perClass[test.label(i)]++;
        }
        assertThat(perClass).containsOnly(1_000); // the test set is balanced
        assertThat(test.label(0)).isEqualTo(9); // the first test image is an ankle boot
        float[] first = test.image(0);
        assertThat(first).hasSize(784);
        assertThat(first[0]).isZero(); // black border
        float max = 0;
        for (float p : first) {
            max = Math.max(max, p);
        }
        assertThat(max).isBetween(0.5f, 1f);
    }

    @Test
    void readsRawFilesLikeGzipAndRejectsOthers(@TempDir Path dir) throws IOException {
        for (String stem : new String[] {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(FASHION.resolve(stem + ".gz")))) {
                Files.copy(in, dir.resolve(stem));
            }
        }
        IdxImages raw = IdxImages.testSet(dir);
        IdxImages gzip = IdxImages.testSet(FASHION);
        assertThat(raw.pixels()).isEqualTo(gzip.pixels());
        assertThat(raw.labels()).isEqualTo(gzip.labels());

        assertThatThrownBy(() -> IdxImages.read(dir.resolve("t10k-labels-idx1-ubyte"),
                        dir.resolve("t10k-labels-idx1-ubyte")))
                .hasMessageContaining("is not an IDX images file");
        Path truncated = dir.resolve("short");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(dir.resolve("t10k-images-idx3-ubyte")), 500));
        assertThatThrownBy(() -> IdxImages.read(truncated, dir.resolve("t10k-labels-idx1-ubyte")))
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> IdxImages.testSet(dir.resolve("nowhere")))
                .hasMessageContaining("GUARD_DATA_DIR");
    }
}
