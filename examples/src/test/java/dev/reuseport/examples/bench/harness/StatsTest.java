package dev.reuseport.examples.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class StatsTest {
    @Test
    void medianOfAnOddCountIsTheMiddleRoundToFourDigits() {
        assertThat(Stats.median(13645, 13813, 13708, 12442, 19575)).isCloseTo(13708, within(13708 * 1e-4));
        assertThat(Stats.median(1.070, 1.001, 1.076)).isCloseTo(1.070, within(1e-4));
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheTwoMiddleOnes() {
        assertThat(Stats.median(1.0, 2.0, 3.0, 4.0)).isCloseTo(2.5, within(1e-3));
        assertThat(Stats.median(List.of(0.967, 1.012))).isCloseTo(0.9895, within(1e-3));
    }

    @Test
    void nothingOrNanGivesNanAndANegativeValueIsRefusedByName() {
        assertThat(Stats.median()).isNaN();
        assertThat(Stats.median(1.0, Double.NaN)).isNaN();
        assertThatThrownBy(() -> Stats.median(1.0, -2.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-2.0");
    }

    @Test
    void timesGiveTheUpperMiddleAndTheMaxInMilliseconds() {
        Stats.Times t = Stats.Times.of(400_000, 361_600_000, 9_300_000);
        assertThat(t.count()).isEqualTo(3);
        assertThat(t.medianMillis()).isCloseTo(9.3, within(0.01));
        assertThat(t.maxMillis()).isCloseTo(361.6, within(0.1));
        assertThat(new Stats.Times().medianMillis()).isZero();
    }

    @Test
    void theResultLineKeepsItsKeysInOrderAndSaysNaForWhatWasNotMeasured() {
        assertThat(new Result("x").put("a", 1.23456, 3).put("b", null).put("c", Double.NaN, 1).put("d", 7L)
                .toString()).isEqualTo("RESULT x a=1.235 b=n/a c=n/a d=7");
        assertThatThrownBy(() -> new Result("x").put("a b", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a b'");
    }
}
