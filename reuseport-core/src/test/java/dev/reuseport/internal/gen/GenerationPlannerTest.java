package dev.reuseport.internal.gen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.internal.gen.GenerationPlanner.Live;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** New generations take the next free number (wrapping) and a free slot range; four of the largest fit. */
class GenerationPlannerTest {

    @Test
    void fourGenerationsOfTheLargestSizeLiveAtOnceInDisjointRanges() {
        List<Live> live = new ArrayList<>();
        for (int i = 0; i < GenerationPlanner.MIN_LIVE; i++) {
            Live g = GenerationPlanner.next(live, GenerationPlanner.maxWorkers());
            for (Live o : live) {
                assertThat(o.overlaps(g.base(), g.count())).as("%s overlaps %s", g, o).isFalse();
            }
            live.add(g);
        }
        assertThat(live).extracting(Live::number).containsExactly(0, 1, 2, 3);
        assertThatThrownBy(() -> GenerationPlanner.next(live, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("retire a drained generation first");
    }

    @Test
    void numbersWrapAndSkipLiveOnesAndRangesReuseTheRetiredOnesGap() {
        List<Live> live = new ArrayList<>(List.of(new Live(254, 0, 8), new Live(255, 8, 8)));
        Live a = GenerationPlanner.next(live, 8);
        assertThat(a).isEqualTo(new Live(0, 16, 8));
        live.add(a);
        live.remove(0); // generation 254 drained and retired: its slots 0..7 are free again
        Live b = GenerationPlanner.next(live, 8);
        assertThat(b).isEqualTo(new Live(1, 0, 8));
        // a number still live is never handed out again, even after a full turn
        List<Live> turn = new ArrayList<>(List.of(new Live(5, 0, 1), new Live(4, 1, 1)));
        assertThat(GenerationPlanner.next(turn, 1).number()).isEqualTo(6);
        turn = new ArrayList<>(List.of(new Live(6, 0, 1), new Live(5, 1, 1)));
        assertThat(GenerationPlanner.next(turn, 1).number()).isEqualTo(7);
    }

    @Test
    void aGapTooSmallIsSkipped() {
        List<Live> live = List.of(new Live(0, 0, 4), new Live(1, 6, 4));
        assertThat(GenerationPlanner.next(live, 4)).isEqualTo(new Live(2, 10, 4));
        assertThat(GenerationPlanner.next(live, 2)).isEqualTo(new Live(2, 4, 2));
    }

    @Test
    void badSizesAreRefusedNamingWhatIsAccepted() {
        assertThatThrownBy(() -> GenerationPlanner.next(List.of(), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0 workers").hasMessageContaining("1..64");
        assertThatThrownBy(() -> GenerationPlanner.next(List.of(), 65)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("65 workers");
        assertThatThrownBy(() -> new Live(256, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("generation 256");
        assertThatThrownBy(() -> new Live(1, 250, 8)).isInstanceOf(IllegalArgumentException.class);
    }
}
