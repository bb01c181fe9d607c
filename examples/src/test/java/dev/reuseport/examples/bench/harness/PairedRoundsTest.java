package dev.reuseport.examples.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code bench quic}'s packets/s method on a made-up rate: the ON side runs at 0.9 of the OFF side while the
 * machine slows down by half over the run. The median of the per-pair ratios finds 0.9 through the drift;
 * rounds go in ABBA order after one discarded warm-up round per side, each counted past the settle time.
 */
class PairedRoundsTest {
    /** A counter whose rate is the side's rate times a factor falling from 1 to 0.5 over {@code spanNanos}. */
    private static final class Load implements PairedRounds.Toggle {
        final long start = System.nanoTime();
        final long spanNanos;
        final List<Boolean> switches = new ArrayList<>();
        boolean on;
        double count;
        long last = start;

        Load(long spanNanos) {
            this.spanNanos = spanNanos;
        }

        @Override
        public synchronized void begin(boolean feature) {
            advance();
            on = feature;
            switches.add(feature);
        }

        synchronized long count() {
            advance();
            return (long) count;
        }

        private void advance() {
            long now = System.nanoTime();
            double drift = 1 - 0.5 * Math.min(1, (now - start) / (double) spanNanos);
            count += (now - last) / 1e9 * 1_000_000 * drift * (on ? 0.9 : 1.0);
            last = now;
        }
    }

    @Test
    void theMedianOfPairRatiosSeesThroughADriftAndRoundsGoInAbbaOrderAfterAWarmUp() throws Exception {
        int pairs = 8;
        long round = 40_000_000L;
        Load load = new Load((pairs * 2 + 2) * (round + 5_000_000L));
        StringWriter text = new StringWriter();
        PairedRounds.Outcome o = PairedRounds.run(new PrintWriter(text), round, pairs, round, 5_000_000L, load::count,
                load, new Progress(new PrintWriter(new StringWriter()), "test"));
        System.out.print(text);
        assertThat(load.switches.subList(0, 6)).as("warm-up OFF, ON; then OFF,ON; ON,OFF")
                .containsExactly(false, true, false, true, true, false);
        assertThat(load.switches).hasSize(2 + 2 * pairs);
        assertThat(o.ratios()).hasSize(pairs);
        assertThat(o.pairRatio()).as("the median pair ratio").isBetween(0.85, 0.95);
        assertThat(o.q1()).isLessThanOrEqualTo(o.pairRatio());
        assertThat(o.q3()).isGreaterThanOrEqualTo(o.pairRatio());
        assertThat(text.toString()).contains("warm-up 1 OFF").contains("warm-up 2 ON").contains("ON,OFF")
                .contains("pair ratios ON/OFF: median");
    }

    @Test
    void badRoundsAreRefusedNamingWhatIsAccepted() {
        PrintWriter out = new PrintWriter(new StringWriter());
        Progress p = new Progress(out, "test");
        assertThatThrownBy(() -> PairedRounds.run(out, 0, 0, 1, 0, () -> 0, on -> { }, p))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("accepted: pairs 1+");
    }
}
