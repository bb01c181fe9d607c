package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import java.net.DatagramSocket;
import java.nio.channels.DatagramChannel;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Each policy's property, on real traffic through a group with the steering program attached. */
@Tag("kernel")
@Timeout(120)
class PolicySteeringTest {
    private static final int[] EIGHT = {0, 1, 2, 3, 4, 5, 6, 7};

    @BeforeAll
    static void steeringIsAvailable() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        if (dev.reuseport.sys.internal.Sys.uid() != 0) {
            assumeTrue(Probes.steeringAvailable(f), "not root and eBPF steering unavailable: " + f);
        }
        // as root on a kernel with sk_reuseport (4.19+) a probe that says otherwise is a bug, not a skip
        assertThat(Probes.steeringAvailable(f)).as("probes as root: %s", f).isTrue();
    }

    private static ReuseportGroup.Builder tcp(Policy p) {
        return ReuseportGroup.tcp().address(TestTraffic.LO).workers(8).backlog(4096).policy(p);
    }

    private static ReuseportGroup.Builder udp(Policy p) {
        return ReuseportGroup.udp().address(TestTraffic.LO).workers(8).policy(p);
    }

    @Test
    void roundRobinSpreadsTcpConnectionsExactly() throws Exception {
        try (ReuseportGroup g = tcp(Policy.roundRobin()).open(); TestTraffic t = new TestTraffic(g)) {
            assertThat(g.capabilities().steering()).isEqualTo("bpf round-robin");
            long[] c = t.connect(800);
            for (int s : EIGHT) {
                assertThat(c[s]).as("slot %d", s).isEqualTo(100);
            }
            List<SteerProgram.SlotCounters> k = g.steeringCounters();
            assertThat(k).hasSize(8);
            assertThat(k.stream().mapToLong(SteerProgram.SlotCounters::selected).sum()).isEqualTo(800);
        }
    }

    @Test
    void roundRobinSpreadsHeavyUdpSendersOverEveryWorker() throws Exception {
        try (ReuseportGroup g = udp(Policy.roundRobin()).open(); TestTraffic t = new TestTraffic(g)) {
            List<DatagramChannel> flows = TestTraffic.flows(4);
            try {
                long[] c = new long[256];
                for (int i = 0; i < 200; i++) {
                    for (DatagramChannel ch : flows) {
                        c[t.ping(ch)]++;
                    }
                }
                for (int s : EIGHT) {
                    assertThat(c[s]).as("slot %d of 4 heavy flows", s).isEqualTo(100);
                }
            } finally {
                TestTraffic.closeAll(flows);
            }
        }
    }

    @Test
    void weightedSharesFollowTheWeightsExactly() throws Exception {
        int[] w = {1, 1, 2, 2, 4, 4, 8, 8};
        try (ReuseportGroup g = tcp(Policy.weighted(w)).open(); TestTraffic t = new TestTraffic(g)) {
            long[] c = t.connect(30 * 20);
            for (int s : EIGHT) {
                assertThat(c[s]).as("slot %d", s).isEqualTo(20L * w[s]);
            }
        }
    }

    @Test
    void stickyUdpFlowsSpreadEvenlyStayPutAndOnlyTheLeaversMove() throws Exception {
        try (ReuseportGroup g = udp(Policy.sticky()).open(); TestTraffic t = new TestTraffic(g)) {
            List<DatagramChannel> flows = TestTraffic.flows(1024);
            try {
                int[] first = new int[flows.size()];
                long[] c = new long[256];
                for (int i = 0; i < flows.size(); i++) {
                    first[i] = t.ping(flows.get(i));
                    c[first[i]]++;
                }
                assertThat(TestTraffic.maxOverMean(c, EIGHT)).isEqualTo(1.0);
                for (int i = 0; i < flows.size(); i++) {
                    assertThat(t.ping(flows.get(i))).as("flow %d stays", i).isEqualTo(first[i]);
                }
                g.removeWorker(3);
                int movedOthers = 0;
                for (int i = 0; i < flows.size(); i++) {
                    int now = t.ping(flows.get(i));
                    assertThat(now).isNotEqualTo(3);
                    if (first[i] != 3 && now != first[i]) {
                        movedOthers++;
                    }
                }
                assertThat(movedOthers).as("flows not on the leaver that moved").isZero();
            } finally {
                TestTraffic.closeAll(flows);
            }
        }
    }

    @Test
    void switchingBetweenTheKernelHashAndConsistentMovesNoFlow() throws Exception {
        for (ReuseportGroup.Builder b : List.of(udp(Policy.kernelHash()), tcp(Policy.kernelHash()))) {
            try (ReuseportGroup g = b.open(); TestTraffic t = new TestTraffic(g)) {
                boolean isUdp = g.protocol() == Protocol.UDP;
                List<DatagramChannel> flows = isUdp ? TestTraffic.flows(1024) : List.of();
                List<java.net.InetSocketAddress> clients = new java.util.ArrayList<>();
                try {
                    // TCP: a flow is a client address and port, bound the same each time
                    for (int i = 0; i < 256 && !isUdp; i++) {
                        clients.add(new java.net.InetSocketAddress(TestTraffic.LO, 0));
                    }
                    int[] kernel = isUdp ? pingAll(t, flows) : null;
                    List<Integer> kernelTcp = isUdp ? null : connectAll(g, clients, true);
                    g.applyPolicy(Policy.consistent());
                    assertThat(g.capabilities().steering()).isEqualTo("bpf consistent");
                    if (isUdp) {
                        assertThat(pingAll(t, flows)).as("UDP flows after enforcing consistent").containsExactly(kernel);
                    } else {
                        assertThat(connectAll(g, clients, false)).as("TCP 4-tuples after enforcing consistent")
                                .isEqualTo(kernelTcp);
                    }
                    g.fallbackToKernelHash("test: back to the kernel hash");
                    if (isUdp) {
                        assertThat(pingAll(t, flows)).as("UDP flows after falling back").containsExactly(kernel);
                    }
                } finally {
                    TestTraffic.closeAll(flows);
                }
            }
        }
    }

    private static int[] pingAll(TestTraffic t, List<DatagramChannel> flows) throws java.io.IOException {
        int[] w = new int[flows.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = t.ping(flows.get(i));
        }
        return w;
    }

    /**
     * One connection from each client address; the first time the kernel picks the ports (recorded into
     * {@code clients}), later the same ports are bound again, so each connection repeats its 4-tuple.
     */
    private static List<Integer> connectAll(ReuseportGroup g, List<java.net.InetSocketAddress> clients, boolean first)
            throws java.io.IOException {
        List<Integer> slots = new java.util.ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            try (java.net.Socket s = new java.net.Socket()) {
                s.setReuseAddress(true);
                s.setSoLinger(true, 0); // RST on close: no TIME_WAIT holds the 4-tuple
                s.bind(clients.get(i));
                if (first) {
                    clients.set(i, (java.net.InetSocketAddress) s.getLocalSocketAddress());
                }
                s.connect(g.localAddress(), 5000);
                s.setSoTimeout(5000);
                slots.add(s.getInputStream().read());
            }
        }
        return slots;
    }

    @Test
    void consistentMovesOnlyTheLeaversFlowsAndOnlyNewcomersGain() throws Exception {
        try (ReuseportGroup g = udp(Policy.consistent()).open(); TestTraffic t = new TestTraffic(g)) {
            List<DatagramChannel> flows = TestTraffic.flows(1024);
            try {
                int[] first = new int[flows.size()];
                for (int i = 0; i < flows.size(); i++) {
                    first[i] = t.ping(flows.get(i));
                }
                g.removeWorker(3);
                int[] second = new int[flows.size()];
                int onLeaver = 0;
                for (int i = 0; i < flows.size(); i++) {
                    second[i] = t.ping(flows.get(i));
                    if (first[i] == 3) {
                        onLeaver++;
                        assertThat(second[i]).isNotEqualTo(3);
                    } else {
                        assertThat(second[i]).as("flow %d not on the leaver", i).isEqualTo(first[i]);
                    }
                }
                assertThat(onLeaver).isPositive();
                Worker back = g.addWorker();
                assertThat(back.slot()).isEqualTo(3);
                t.serve(back);
                int gained = 0;
                for (int i = 0; i < flows.size(); i++) {
                    int third = t.ping(flows.get(i));
                    if (third != second[i]) {
                        assertThat(third).as("a flow that moves goes to the newcomer").isEqualTo(3);
                        gained++;
                    }
                }
                assertThat(gained).isPositive();
            } finally {
                TestTraffic.closeAll(flows);
            }
        }
    }

    @Test
    void switchingPoliciesUnderLoadLosesNoDatagram() throws Exception {
        try (ReuseportGroup g = udp(Policy.kernelHash()).receiveBuffer(4 << 20).open();
             TestTraffic t = new TestTraffic(g)) {
            AtomicBoolean done = new AtomicBoolean();
            AtomicLong sent = new AtomicLong();
            Thread sender = new Thread(() -> {
                try (DatagramSocket s = new DatagramSocket(0, TestTraffic.LO)) {
                    byte[] b = new byte[16];
                    while (!done.get() && sent.get() < 200_000) {
                        s.send(new java.net.DatagramPacket(b, b.length, g.localAddress()));
                        sent.incrementAndGet();
                        if (sent.get() % 64 == 0) {
                            Thread.sleep(1);
                        }
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            sender.start();
            Policy[] cycle = {Policy.roundRobin(), Policy.consistent(), Policy.sticky(), Policy.weighted(1, 2, 3, 4, 1, 2, 3, 4),
                Policy.cpu(), Policy.kernelHash()};
            for (int i = 0; i < 30; i++) {
                Policy p = cycle[i % cycle.length];
                Capabilities c = g.applyPolicy(p).capabilities();
                assertThat(c.steering()).isEqualTo(p instanceof Policy.KernelHash ? "kernel hash" : "bpf " + p.spec());
                Thread.sleep(20);
            }
            done.set(true);
            sender.join();
            long deadline = System.nanoTime() + 5_000_000_000L;
            long got = 0;
            while (System.nanoTime() < deadline) {
                got = 0;
                for (int s : EIGHT) {
                    got += t.served.get(s);
                }
                if (got == sent.get()) {
                    break;
                }
                Thread.sleep(20);
            }
            long drops = g.stats().stream().mapToLong(WorkerStats::drops).sum();
            assertThat(drops).as("kernel receive-buffer drops").isZero();
            assertThat(got).as("received of %d sent across 30 policy switches", sent.get()).isEqualTo(sent.get());
            assertThat(g.tableVersion()).isEqualTo(30);
        }
    }
}
