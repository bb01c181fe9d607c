package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Under {@code sticky}, as many live flows as the configured flow capacity keep their worker: the kernel's
 * LRU map evicts before it is full, so a table of exactly the capacity moved most flows of a full set on
 * their second pass (bench ingest: 67% at 100,000); the group sizes the table with the LRU's slack.
 */
@Tag("kernel")
class StickyFlowCapacityTest {
    private static final int FLOWS = 2048;

    @Test
    void flowsUpToTheCapacityKeepTheirWorker() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(0).workers(4)
                .policy(Policy.sticky()).ingest(IngestOptions.defaults().flowCapacity(FLOWS)).open()) {
            assumeTrue(g.capabilities().steering().startsWith("bpf"), "no steering program here: "
                    + g.capabilities().steeringReason());
            byte[][] seen = new byte[2][FLOWS];
            AtomicLong got = new AtomicLong();
            int[] pass = {0};
            List<Thread> threads = new ArrayList<>();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            for (int k = 0; k < 4; k++) {
                Worker w = g.workers().get(k);
                byte mark = (byte) (k + 1);
                Thread t = new Thread(() -> {
                    DatagramBatch b = DatagramBatch.allocate(64, 16);
                    try {
                        while (!stop.get()) {
                            int n = w.receive(b, Duration.ofMillis(20));
                            synchronized (seen) {
                                for (int i = 0; i < n; i++) {
                                    seen[pass[0]][b.payload(i).getInt(0)] = mark;
                                }
                            }
                            got.addAndGet(n);
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            List<DatagramChannel> flows = new ArrayList<>();
            try {
                for (int f = 0; f < FLOWS; f++) {
                    DatagramChannel ch = DatagramChannel.open();
                    flows.add(ch);
                    ch.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 2, (byte) (f / 256),
                        (byte) (f % 256)}), 20000 + f));
                }
                for (int p = 0; p < 2; p++) {
                    synchronized (seen) {
                        pass[0] = p;
                    }
                    sendEveryFlowOnce(flows, g.localAddress(), got);
                }
            } finally {
                for (DatagramChannel ch : flows) {
                    ch.close();
                }
                stop.set(true);
                for (Thread t : threads) {
                    t.join(2000);
                }
            }
            int moved = 0;
            int both = 0;
            synchronized (seen) {
                for (int f = 0; f < FLOWS; f++) {
                    if (seen[0][f] != 0 && seen[1][f] != 0) {
                        both++;
                        moved += seen[0][f] != seen[1][f] ? 1 : 0;
                    }
                }
            }
            assertThat(both).as("flows seen in both passes").isGreaterThan(FLOWS * 99 / 100);
            assertThat(moved).as("flows that changed worker, of %d", both).isZero();
        }
    }

    /** One datagram carrying f from flow f's socket (127.2.(f / 256).(f % 256) port 20000 + f); paced so nothing drops. */
    private static void sendEveryFlowOnce(List<DatagramChannel> flows, InetSocketAddress to, AtomicLong got)
            throws Exception {
        long base = got.get();
        ByteBuffer b = ByteBuffer.allocate(4);
        for (int f = 0; f < FLOWS; f++) {
            flows.get(f).send(b.clear().putInt(0, f), to);
            if (f % 256 == 255) {
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (got.get() - base < f + 1 && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
            }
        }
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (got.get() - base < FLOWS && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }
}
