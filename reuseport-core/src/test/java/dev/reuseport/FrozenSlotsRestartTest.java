package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.internal.LibBpf;
import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real case (issue 15, High 4): with the steering program's socket array frozen
 * (BPF_MAP_FREEZE, so every update is EPERM), {@code restart()} failed half-way and left the next socket
 * generation listening beside the old one: 8 listeners on the port for 4 workers, and the connections
 * the kernel hash gave the orphans were never served. A failed restart must leave exactly the old
 * sockets listening, every worker serving, the table version unchanged and no descriptor open.
 */
@Tag("kernel")
@Timeout(60)
class FrozenSlotsRestartTest {

    @Test
    void aRestartThatCannotUpdateTheSocketArrayLeavesOnlyTheOldListeners() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(4).open();
             TestTraffic t = new TestTraffic(g)) {
            SteerProgram p = g.engine().steering().program();
            Assumptions.assumeTrue(p != null, "no steering program attached (needs BPF and the migrate program): "
                    + g.capabilities().steeringReason());
            int port = g.localAddress().getPort();
            assertThat(ProcNet.listeners(port)).isEqualTo(4);
            int version = g.tableVersion();
            var sockets = Descriptors.sockets();
            LibBpf.mapFreeze(p.descriptors()[1 + SteerProgram.MAPS.indexOf("slots")], "map slots");

            assertThatThrownBy(g::restart).isInstanceOf(IOException.class).hasMessageContaining("EPERM");

            assertThat(ProcNet.listeners(port)).as("listeners on the port after the failed restart").isEqualTo(4);
            assertThat(g.tableVersion()).isEqualTo(version);
            assertThat(g.restarts()).isZero();
            assertThat(Descriptors.leakedSince(sockets)).as("descriptors left open").isEmpty();
            long[] c = t.connect(40);
            long served = 0;
            for (int s = 0; s < 4; s++) {
                served += c[s];
            }
            assertThat(served).as("connections served of 40").isEqualTo(40);
        }
    }
}
