package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Probes and tag reads load the program without its preallocated tables: an LRU hash map is filled in one
 * stretch of kernel time nothing preempts here (65,536 entries held a CPU 20-30 ms), so a load that only
 * needs the verified program must not pay it, and what it reads must be what a full load gives.
 */
@Tag("kernel")
class SteerInspectionLoadTest {

    @Test
    void anInspectionLoadCreatesTheFlowTablesAtTheirSmallest() throws Exception {
        KernelSupport.requireSteering();
        for (boolean migrate : new boolean[] {false, true}) {
            try (SteerProgram p = SteerProgram.loadForInspection(migrate, true)) {
                // an LRU map of 1 entry is rounded up to one per possible CPU at most
                int cpus = Runtime.getRuntime().availableProcessors();
                assertThat(p.flows().maxEntries()).as("flows, migrate=" + migrate)
                        .isLessThanOrEqualTo(Math.max(cpus, 64)).isLessThan(SteerProgram.TCP_FLOW_CAPACITY);
                assertThat(p.dissectorFlows().maxEntries()).as("dflows, migrate=" + migrate)
                        .isLessThanOrEqualTo(Math.max(cpus, 64));
                assertThat(p.dissects()).isTrue();
            }
        }
        try (SteerProgram full = SteerProgram.load(false)) {
            assertThat(full.flows().maxEntries()).isEqualTo(SteerProgram.DEFAULT_FLOW_CAPACITY);
            assertThat(full.dissectorFlows().maxEntries()).isEqualTo(SteerProgram.DEFAULT_FLOW_CAPACITY);
        }
    }

    @Test
    void aTagReadWithTheSmallestMapsIsTheTagOfAFullLoad() throws Exception {
        KernelSupport.requireSteering();
        for (boolean dissectors : new boolean[] {true, false}) {
            for (boolean migrate : new boolean[] {false, true}) {
                String full;
                try (SteerProgram p = SteerProgram.load(migrate, 0, dissectors)) {
                    full = p.program().info().tag();
                }
                assertThat(SteerProgram.tag(migrate, dissectors)).as("migrate=" + migrate + " dissectors=" + dissectors)
                        .isEqualTo(full).matches("[0-9a-f]{16}");
            }
        }
    }
}
