package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Real connections and datagrams on loopback land on the group, every worker gets some, counts match. */
@Tag("kernel")
class ReuseportGroupTrafficTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @Test
    void twoThousandTcpConnectionsSpreadOverAllEightWorkers() throws Exception {
        int total = 2000;
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).port(0).workers(8).backlog(4096).open()) {
            assertThat(g.capabilities().isOn("SO_REUSEPORT")).isTrue();
            AtomicLongArray served = new AtomicLongArray(8);
            AtomicInteger done = new AtomicInteger();
            List<Thread> ts = new ArrayList<>();
            for (Worker w : g.workers()) {
                Thread t = new Thread(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(16);
                    while (done.get() < total) {
                        try (Connection c = w.accept(Duration.ofMillis(100))) {
                            if (c == null) {
                                continue;
                            }
                            assertThat(c.slot()).isEqualTo(w.slot());
                            b.clear().put((byte) w.slot()).flip();
                            c.writeFully(b);
                            served.incrementAndGet(w.slot());
                            done.incrementAndGet();
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    }
                });
                t.start();
                ts.add(t);
            }
            long[] reported = new long[8];
            // No check that the 2,000 source ports differ: the worker closes first, so TIME_WAIT is on the
            // server's side and the kernel may hand a client's port out again (CI saw 1,970 distinct).
            for (int i = 0; i < total; i++) {
                try (Socket s = new Socket(LO, g.localAddress().getPort())) {
                    s.setSoTimeout(5000);
                    int slot = s.getInputStream().read();
                    reported[slot]++;
                }
            }
            for (Thread t : ts) {
                t.join(10_000);
            }
            List<WorkerStats> stats = g.stats();
            for (int i = 0; i < 8; i++) {
                assertThat(stats.get(i).accepted()).as("worker %d accepted", i)
                        .isPositive()
                        .isEqualTo(reported[i])
                        .isEqualTo(served.get(i));
                assertThat(stats.get(i).queueDepth()).isZero();
                assertThat(stats.get(i).queueLimit()).isEqualTo(4096);
            }
            assertThat(stats.stream().mapToLong(WorkerStats::accepted).sum()).isEqualTo(total);
        }
    }

    @Test
    void twoThousandUdpFlowsSpreadOverAllEightWorkers() throws Exception {
        int total = 2000;
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).port(0).workers(8).open()) {
            ConcurrentHashMap<Integer, Integer> slotOfSourcePort = new ConcurrentHashMap<>();
            AtomicInteger received = new AtomicInteger();
            List<Thread> ts = new ArrayList<>();
            for (Worker w : g.workers()) {
                Thread t = new Thread(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(64);
                    while (received.get() < total) {
                        try {
                            b.clear();
                            InetSocketAddress from = w.receive(b, Duration.ofMillis(100));
                            if (from == null) {
                                continue;
                            }
                            slotOfSourcePort.put(from.getPort(), w.slot());
                            received.incrementAndGet();
                            b.clear().put((byte) w.slot()).flip();
                            w.send(b, from);
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    }
                });
                t.start();
                ts.add(t);
            }
            long[] echoed = new long[8];
            List<DatagramChannel> flows = new ArrayList<>(); // held open: every flow has its own source port
            try {
                for (int i = 0; i < total; i++) {
                    DatagramChannel ch = DatagramChannel.open();
                    flows.add(ch);
                    ch.bind(new InetSocketAddress(LO, 0));
                    ch.socket().setSoTimeout(5000);
                    ch.send(ByteBuffer.wrap(new byte[] {1, 2, 3}), g.localAddress());
                    java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[8], 8);
                    ch.socket().receive(p);
                    echoed[p.getData()[0]]++;
                }
            } finally {
                for (DatagramChannel ch : flows) {
                    ch.close();
                }
            }
            for (Thread t : ts) {
                t.join(10_000);
            }
            assertThat(slotOfSourcePort).as("one flow per distinct source port").hasSize(total);
            List<WorkerStats> stats = g.stats();
            for (int i = 0; i < 8; i++) {
                assertThat(stats.get(i).received()).as("worker %d received", i).isPositive().isEqualTo(echoed[i]);
                assertThat(stats.get(i).sent()).isEqualTo(echoed[i]);
                assertThat(stats.get(i).drops()).isZero();
            }
            assertThat(stats.stream().mapToLong(WorkerStats::received).sum()).isEqualTo(total);
        }
    }
}
