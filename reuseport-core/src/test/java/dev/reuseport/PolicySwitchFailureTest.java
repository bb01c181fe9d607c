package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A map update that fails in the middle of a policy switch leaves the previous table in force, and the
 * audit trail says so. The failure is real: the config map is frozen (BPF_MAP_FREEZE), so the kernel
 * refuses the update that would switch to the new table after the table itself was written.
 */
@Tag("kernel")
@Timeout(60)
class PolicySwitchFailureTest {

    @Test
    void aMapUpdateFailingMidSwitchKeepsThePreviousTableInForceAndIsAudited() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(8).policy(Policy.roundRobin())
                .open(); TestTraffic t = new TestTraffic(g)) {
            assertThat(g.capabilities().steering()).isEqualTo("bpf round-robin");
            int tableVersion = g.tableVersion();
            SteerProgram p = g.engine().steering().program();
            int configFd = p.descriptors()[1 + SteerProgram.MAPS.indexOf("config")];
            LibBpf.mapFreeze(configFd, "map config");

            assertThatThrownBy(() -> g.applyPolicy(Policy.consistent()))
                    .isInstanceOf(NativeException.class)
                    .hasMessageStartingWith("bpf_map_update_elem: EPERM (1)");
            assertThat(g.policy()).isEqualTo(Policy.roundRobin());
            assertThat(g.tableVersion()).isEqualTo(tableVersion);
            assertThat(g.capabilities().steering()).isEqualTo("bpf round-robin");
            assertThat(g.audit().entries()).anyMatch(l -> l.contains("\"event\":\"publish-failed\"")
                    && l.contains("consistent") && l.contains("stays in force"));
            // the previous table really is the one in force: round robin is still exact
            long[] c = t.connect(160);
            for (int s = 0; s < 8; s++) {
                assertThat(c[s]).as("slot %d", s).isEqualTo(20);
            }
        }
    }
}
