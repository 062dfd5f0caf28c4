package dev.backdoorguard.client.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The badnets trigger touches exactly rows and columns H-4..H-2 of every channel, setting them to 1.0. */
class BadNetsTest {
    @Test
    void stampsAWhiteThreeByThreeSquareOnePixelFromTheCorner() {
        float[] image = new float[2 * 28 * 30];
        java.util.Arrays.fill(image, 0.25f);
        BadNets.apply(image, 2, 28, 30);

        List<String> changed = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            for (int r = 0; r < 28; r++) {
                for (int col = 0; col < 30; col++) {
                    float value = image[(c * 28 + r) * 30 + col];
                    if (value != 0.25f) {
                        assertThat(value).isEqualTo(1f);
                        changed.add(c + ":" + r + ":" + col);
                    }
                }
            }
        }
        List<String> expected = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            for (int r = 24; r <= 26; r++) {
                for (int col = 26; col <= 28; col++) {
                    expected.add(c + ":" + r + ":" + col);
                }
            }
        }
        assertThat(changed).containsExactlyElementsOf(expected);
    }

    @Test
    void rejectsMismatchedShapes() {
        assertThatThrownBy(() -> BadNets.apply(new float[10], 1, 28, 28)).hasMessageContaining("not 1x28x28");
        assertThatThrownBy(() -> BadNets.apply(new float[9], 1, 3, 3)).hasMessageContaining("too small");
    }
}
