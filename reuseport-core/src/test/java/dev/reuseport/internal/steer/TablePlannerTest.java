package dev.reuseport.internal.steer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.Policy;
import dev.reuseport.bpf.SteerProgram.Mode;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The tables policies compile to: pure computation, no kernel. */
class TablePlannerTest {
    private static final int[] EIGHT = IntStream.range(0, 8).toArray();

    private static int[] counts(int[] table) {
        int[] c = new int[TablePlanner.MAX_SLOTS];
        for (int s : table) {
            c[s]++;
        }
        return c;
    }

    @Test
    void aFreshConsistentTablePicksWhatTheKernelHashPicks() {
        for (int n : new int[] {1, 3, 7, 8, 13, 256}) {
            int[] live = IntStream.range(0, n).toArray();
            TablePlanner.Plan p = TablePlanner.plan(rule(Policy.consistent()), live, null, 2);
            assertThat(p.mode()).isEqualTo(Mode.HASH);
            assertThat(p.length()).as("n=%d", n).isEqualTo(TablePlanner.CONSISTENT_MAX / n * n);
            java.util.SplittableRandom r = new java.util.SplittableRandom(n);
            for (int k = 0; k < 100_000; k++) {
                long h = r.nextInt() & 0xFFFFFFFFL;
                int kernel = live[(int) ((h * n) >>> 32)]; // reciprocal_scale(hash, num_socks)
                int program = p.at((int) ((h * p.length()) >>> 32)); // what steer.bpf.c's HASH mode reads
                assertThat(program).as("n=%d hash=%d", n, h).isEqualTo(kernel);
            }
        }
    }

    @Test
    void removingASlotMovesOnlyItsEntriesAndSpreadsThem() {
        int[] before = TablePlanner.blocks(EIGHT);
        int[] live = {0, 1, 2, 4, 5, 6, 7};
        int[] after = TablePlanner.rebalance(before, live);
        int[] c = counts(after);
        for (int i = 0; i < before.length; i++) {
            if (before[i] != 3) {
                assertThat(after[i]).as("entry %d", i).isEqualTo(before[i]);
            } else {
                assertThat(after[i]).isNotEqualTo(3);
            }
        }
        int m = before.length;
        for (int s : live) {
            assertThat(c[s]).isBetween(m / 7 - 1, m / 7 + 2);
        }
    }

    @Test
    void addingASlotMovesEntriesOnlyToTheNewcomer() {
        int[] seven = {0, 1, 2, 4, 5, 6, 7};
        int[] before = TablePlanner.blocks(seven);
        int[] after = TablePlanner.rebalance(before, EIGHT);
        int moved = 0;
        for (int i = 0; i < before.length; i++) {
            if (after[i] != before[i]) {
                assertThat(after[i]).isEqualTo(3);
                moved++;
            }
        }
        assertThat(moved).isEqualTo(before.length / 8);
        assertThat(counts(after)[3]).isEqualTo(before.length / 8);
    }

    @Test
    void smoothWeightedSequenceHoldsEachSlotExactlyItsWeightTimes() {
        Policy.Weighted w = (Policy.Weighted) Policy.weighted(1, 1, 2, 2, 4, 4, 8, 8);
        int[] seq = TablePlanner.smoothWeighted(rule(w), EIGHT);
        assertThat(seq).hasSize(30);
        int[] c = counts(seq);
        assertThat(new int[] {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]}).containsExactly(1, 1, 2, 2, 4, 4, 8, 8);
        // spread, not in runs: slot 7 (weight 8 of 30) never appears three times in a row
        for (int i = 2; i < seq.length; i++) {
            assertThat(seq[i] == 7 && seq[i - 1] == 7 && seq[i - 2] == 7).isFalse();
        }
    }

    @Test
    void weightsThatGiveEveryLiveSlotZeroAreRefused() {
        Policy.Weighted w = (Policy.Weighted) Policy.weighted(0, 0, 5);
        assertThatThrownBy(() -> TablePlanner.smoothWeighted(rule(w), new int[] {0, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("policy weighted:0,0,5 gives every live slot [0, 1] weight 0; accepted: at least one "
                        + "live slot with weight > 0");
    }

    @Test
    void eachPolicyCompilesToItsMode() {
        assertThat(TablePlanner.plan(rule(Policy.kernelHash()), EIGHT, null, 2).mode()).isEqualTo(Mode.PASS);
        assertThat(TablePlanner.plan(rule(Policy.roundRobin()), EIGHT, null, 2).table()).containsExactly(EIGHT);
        assertThat(TablePlanner.plan(rule(Policy.sticky()), EIGHT, null, 2).mode()).isEqualTo(Mode.STICKY);
        TablePlanner.Plan cpu = TablePlanner.plan(rule(Policy.cpu()), new int[] {2, 5}, null, 4);
        assertThat(cpu.mode()).isEqualTo(Mode.CPU);
        assertThat(cpu.table()).containsExactly(2, 5, 2, 5);
        assertThat(TablePlanner.plan(rule(Policy.consistent()), EIGHT, null, 2).length()).isEqualTo(TablePlanner.CONSISTENT_MAX);
    }

    @Test
    void policySpecsParseAndBadOnesNameTheValue() {
        for (String s : new String[] {"kernel-hash", "round-robin", "consistent", "sticky", "cpu", "weighted:1,0,3"}) {
            assertThat(Policy.parse(s).spec()).isEqualTo(s);
        }
        assertThatThrownBy(() -> Policy.parse("fastest")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("policy 'fastest' is unknown; accepted: kernel-hash, round-robin, consistent, sticky, cpu, "
                        + "weighted:W0,W1,...");
        assertThatThrownBy(() -> Policy.parse("weighted:1,x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("policy 'weighted:1,x': weight 'x' is not a whole number");
        assertThatThrownBy(() -> Policy.weighted(1, -2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("weight -2 of slot 1 is negative; accepted: 0 or more");
        assertThatThrownBy(() -> Policy.weighted(0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("weights [0, 0] sum to 0; accepted: a sum of 1..65537");
        assertThatThrownBy(() -> Policy.weighted()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("weights [] are empty");
        assertThatThrownBy(() -> Policy.weighted(new int[257])).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("257 weights; accepted: 1..256 (one per slot)");
    }

    /** The policy as the group hands it to the planner (public parts of Policy only). */
    private static TablePlanner.Rule rule(Policy p) {
        TablePlanner.Kind kind = p instanceof Policy.KernelHash ? TablePlanner.Kind.KERNEL_HASH
                : p instanceof Policy.RoundRobin ? TablePlanner.Kind.ROUND_ROBIN
                : p instanceof Policy.Sticky ? TablePlanner.Kind.STICKY
                : p instanceof Policy.Cpu ? TablePlanner.Kind.CPU
                : p instanceof Policy.Weighted ? TablePlanner.Kind.WEIGHTED : TablePlanner.Kind.CONSISTENT;
        return new TablePlanner.Rule(kind, p.spec(), p instanceof Policy.Weighted w ? w.weights() : new int[0]);
    }
}
