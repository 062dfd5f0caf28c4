package dev.backdoorguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SeedsTest {
    @Test
    void purposesGetIndependentStreamsThatAreStable() {
        assertThat(Seeds.derive(0, "poison")).isEqualTo(Seeds.derive(0, "poison"));
        assertThat(Seeds.derive(0, "poison")).isNotEqualTo(Seeds.derive(0, "training-order"));
        assertThat(Seeds.derive(0, "poison")).isNotEqualTo(Seeds.derive(1, "poison"));
        // The regression this guards: equal seeds give equal permutations of equal-size sets.
        Random a = new Random(Seeds.derive(0, "poison"));
        Random b = new Random(Seeds.derive(0, "training-order"));
        int same = 0;
        for (int i = 0; i < 100; i++) {
            same += a.nextInt(1000) == b.nextInt(1000) ? 1 : 0;
        }
        assertThat(same).isLessThan(5);
    }
}
