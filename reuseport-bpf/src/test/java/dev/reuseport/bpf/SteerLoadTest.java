package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A load verifies only the program it attaches: opening a TCP group with the migrate program used to
 * load (and have the verifier check) both the select and the migrate program, each with the dissector
 * code, about 92 ms per group. The times printed are for the record, not asserted (the machine is shared).
 */
@Tag("kernel")
class SteerLoadTest {
    private static final int ROUNDS = 3;

    @Test
    void loadVerifiesOnlyTheProgramItAttaches() throws Exception {
        KernelSupport.requireSteering();
        for (boolean migrate : new boolean[] {false, true}) {
            for (boolean dissectors : new boolean[] {false, true}) {
                try (SteerProgram p = SteerProgram.load(migrate, 0, dissectors)) {
                    String name = SteerProgram.programName(migrate, dissectors);
                    assertThat(p.program().name()).isEqualTo(name);
                    assertThat(p.loadedPrograms()).as("programs the load verified").containsExactly(name);
                    assertThat(p.migrates()).isEqualTo(migrate);
                    assertThat(p.dissects()).isEqualTo(dissectors);
                    assertThat(p.dissectorFlows().maxEntries()).as("flow dissector table")
                            .isEqualTo(dissectors ? SteerProgram.DEFAULT_FLOW_CAPACITY : 1);
                    assertThat(p.flows().maxEntries()).as("sticky flow table")
                            .isEqualTo(dissectors ? SteerProgram.DEFAULT_FLOW_CAPACITY : SteerProgram.TCP_FLOW_CAPACITY);
                }
            }
        }
        try (SteerProgram p = SteerProgram.load(true)) {
            assertThat(p.loadedPrograms()).containsExactly(SteerProgram.MIGRATE);
        }
        try (SteerProgram p = SteerProgram.load(true, 1000, false)) {
            assertThat(p.flows().maxEntries()).as("a capacity asked for holds without dissectors").isEqualTo(1000);
        }
    }

    @Test
    void printsTheLoadTimeOfEachVariant() throws Exception {
        KernelSupport.requireSteering();
        long[] tcp = new long[ROUNDS];
        long[] udp = new long[ROUNDS];
        long[] both = new long[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            tcp[r] = timeLoad(false);
            udp[r] = timeLoad(true);
            both[r] = timeLoadOfBothDissectorPrograms();
        }
        Arrays.sort(tcp);
        Arrays.sort(udp);
        Arrays.sort(both);
        System.out.printf("SteerLoadTest: migrate program load, median of %d: without dissectors (TCP) %.1f ms,"
                + " with dissectors (UDP) %.1f ms, both dissector programs as before the fix %.1f ms%n", ROUNDS,
                tcp[ROUNDS / 2] / 1e6, udp[ROUNDS / 2] / 1e6, both[ROUNDS / 2] / 1e6);
    }

    /** What a load did before: select and migrate, both with the dissectors. */
    private static long timeLoadOfBothDissectorPrograms() throws Exception {
        long t0 = System.nanoTime();
        try (BpfObject obj = BpfObject.open(SteerProgram.OBJECT, BpfObject.resource(SteerProgram.OBJECT))) {
            obj.autoload(SteerProgram.SELECT_TCP, false);
            obj.autoload(SteerProgram.MIGRATE_TCP, false);
            obj.expectedAttachType(SteerProgram.MIGRATE, dev.reuseport.sys.internal.LibBpf.ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE);
            obj.load(SteerProgram.SELECT, SteerProgram.MIGRATE);
            return System.nanoTime() - t0;
        }
    }

    private static long timeLoad(boolean dissectors) throws Exception {
        long t0 = System.nanoTime();
        try (SteerProgram p = SteerProgram.load(true, 0, dissectors)) {
            return System.nanoTime() - t0;
        }
    }
}
