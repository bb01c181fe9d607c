package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The sticky flow table's capacity is set before the load (bpf_map__set_max_entries) and holds. */
@Tag("kernel")
class SteerFlowCapacityTest {

    @Test
    void flowTableGetsTheCapacityAskedForBeforeLoad() throws Exception {
        KernelSupport.requireSteering();
        try (SteerProgram p = SteerProgram.load(false)) {
            assertThat(p.flows().maxEntries()).isEqualTo(SteerProgram.DEFAULT_FLOW_CAPACITY);
        }
        try (SteerProgram p = SteerProgram.load(false, 1 << 20)) {
            assertThat(p.flows().maxEntries()).isEqualTo(1 << 20);
            // entries go in and stay (the LRU evicts only when full)
            byte[] v = new byte[4];
            for (int k = 0; k < 1_000; k++) {
                p.flows().update(key(k * 1_048), v, 0);
            }
            assertThat(p.flows().lookup(key(0))).isNotNull();
        }
        try (SteerProgram p = SteerProgram.load(true, 1000)) {
            assertThat(p.flows().maxEntries()).isEqualTo(1000);
        }
    }

    private static byte[] key(int k) {
        return new byte[] {(byte) k, (byte) (k >> 8), (byte) (k >> 16), (byte) (k >> 24)};
    }

    @Test
    void badCapacityIsRefusedNamingTheValue() {
        assertThatThrownBy(() -> SteerProgram.load(false, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> SteerProgram.load(false, (1 << 24) + 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(Integer.toString((1 << 24) + 1));
    }
}
