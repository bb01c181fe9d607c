package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.SteerProgram.Mode;
import dev.reuseport.bpf.SteerProgram.SlotCounters;
import dev.reuseport.bpf.TestGroup.Proto;
import dev.reuseport.sys.internal.Sys;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The policies the program applies to the table: CPU (what {@code selftests/net/reuseport_bpf_cpu.c}
 * checks), exact round-robin, sticky flows, and shadow counting.
 */
@Tag("kernel")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SteerModesTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @BeforeAll
    static void steeringIsAvailable() {
        KernelSupport.requireSteering();
    }

    private static int[] identity(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = i;
        }
        return t;
    }

    @Test
    void cpuModeSteersByTheSendingCpu() throws Exception {
        int cpus = Runtime.getRuntime().availableProcessors();
        assumeTrue(cpus >= 2, () -> "CPU steering needs 2 CPUs to tell them apart; this JVM sees " + cpus);
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(Proto.UDP, LO, 2)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.CPU, new int[] {0, 1}, false, 1);
            for (int k = 0; k < 2; k++) {
                int cpu = k;
                long before = p.counters(2)[k].selected();
                FutureTask<int[]> sender = new FutureTask<>(() -> {
                    Sys.pinToCpu(cpu);
                    assertThat(Sys.currentCpu()).as("thread pinned to CPU %d runs there", cpu).isEqualTo(cpu);
                    int[] owner = g.newFlows(10);
                    assertThat(Sys.currentCpu()).as("still on CPU %d after sending", cpu).isEqualTo(cpu);
                    return owner;
                });
                Thread t = new Thread(sender, "sender-on-cpu-" + cpu);
                t.start();
                int[] owner = sender.get(60, TimeUnit.SECONDS);
                t.join(10_000);
                assertThat(owner).as("10 datagrams sent from CPU %d: the member that received each", cpu)
                        .containsOnly(k);
                assertThat(p.counters(2)[k].selected() - before).as("selections of slot %d", k).isEqualTo(10);
            }
        }
    }

    @Test
    void seqModeIsExactRoundRobin() throws Exception {
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(Proto.UDP, LO, 8)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.SEQ, identity(8), false, 1);
            List<DatagramSocket> flows = new ArrayList<>();
            int[] owner;
            try {
                for (int i = 0; i < 4; i++) {
                    flows.add(g.udpClient());
                }
                owner = g.send(flows, 200);
            } finally {
                for (DatagramSocket s : flows) {
                    s.close();
                }
            }
            int[] count = g.perMember(owner);
            assertThat(count).as("UDP: 800 datagrams from 4 flows over 8 members (last entry: lost)")
                    .containsExactly(100, 100, 100, 100, 100, 100, 100, 100, 0);
            assertThat(Arrays.stream(p.counters(8)).mapToLong(SlotCounters::selected).toArray())
                    .as("selections per slot").containsOnly(100L);
        }
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(Proto.TCP, LO, 8)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.SEQ, identity(8), false, 1);
            int[] count = g.perMember(g.newFlows(400));
            assertThat(count).as("TCP: 400 connections over 8 listeners (last entry: lost)")
                    .containsExactly(50, 50, 50, 50, 50, 50, 50, 50, 0);
            assertThat(Arrays.stream(p.counters(8)).mapToLong(SlotCounters::selected).toArray())
                    .as("selections per slot").containsOnly(50L);
        }
    }

    @Test
    void stickyFlowsStayAndOnlyTheLeaversMove() throws Exception {
        int leaver = 3;
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(Proto.UDP, LO, 8)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.STICKY, identity(8), false, 1);
            List<DatagramSocket> flows = new ArrayList<>();
            try {
                for (int i = 0; i < 512; i++) {
                    flows.add(g.udpClient()); // held open: 512 distinct source ports, 512 flows
                }
                int[] first = g.send(flows, 1);
                assertThat(g.perMember(first)).as("512 new sticky flows over 8 members (last entry: lost)")
                        .containsExactly(64, 64, 64, 64, 64, 64, 64, 64, 0);
                assertThat(p.flows().countKeys()).as("flows remembered").isEqualTo(512);

                g.closeMember(leaver);
                assertThat(p.forgetFlowsOf(leaver)).as("flows forgotten with slot %d", leaver).isEqualTo(64);
                p.publish(Mode.STICKY, new int[] {0, 1, 2, 4, 5, 6, 7}, false, 2);
                long fallbacksBefore = p.counters(8)[leaver].fallback();

                int[] second = g.send(flows, 1);

                int moved = 0;
                List<String> wrong = new ArrayList<>();
                for (int f = 0; f < 512; f++) {
                    if (second[f] < 0) {
                        wrong.add("flow " + f + " (was on " + first[f] + ") lost");
                    } else if (first[f] == leaver) {
                        if (second[f] == leaver) {
                            wrong.add("flow " + f + " still on the closed member");
                        }
                    } else if (second[f] != first[f]) {
                        moved++;
                        wrong.add("flow " + f + " moved " + first[f] + " -> " + second[f]);
                    }
                }
                assertThat(moved).as("flows not on member %d that changed member", leaver).isZero();
                assertThat(wrong).as("flows misplaced after member %d left", leaver).isEmpty();
                int[] count = g.perMember(second);
                assertThat(count[leaver]).isZero();
                assertThat(Arrays.stream(count, 0, 8).sum()).as("all 512 flows delivered: %s", Arrays.toString(count))
                        .isEqualTo(512);
                assertThat(p.counters(8)[leaver].fallback() - fallbacksBefore)
                        .as("forgotten flows never tried the empty slot %d", leaver).isZero();
            } finally {
                for (DatagramSocket s : flows) {
                    s.close();
                }
            }
        }
    }

    @Test
    void shadowModeCountsWithoutSelecting() throws Exception {
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(Proto.UDP, LO, 4)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.HASH, identity(4), true, 1);
            List<DatagramSocket> flows = new ArrayList<>();
            int[] owner;
            try {
                for (int i = 0; i < 50; i++) {
                    flows.add(g.udpClient());
                }
                owner = g.send(flows, 4);
            } finally {
                for (DatagramSocket s : flows) {
                    s.close();
                }
            }
            SlotCounters[] c = p.counters(4);
            assertThat(g.perMember(owner)[4]).as("datagrams lost in shadow mode").isZero();
            assertThat(Arrays.stream(c).mapToLong(SlotCounters::shadow).sum()).as("shadow counts: %s",
                    Arrays.toString(c)).isEqualTo(200);
            assertThat(Arrays.stream(c).mapToLong(SlotCounters::selected).toArray()).as("selections in shadow mode")
                    .containsOnly(0L);
            assertThat(Arrays.stream(c).mapToLong(SlotCounters::fallback).sum()).as("fallbacks in shadow mode")
                    .isZero();
        }
    }
}
