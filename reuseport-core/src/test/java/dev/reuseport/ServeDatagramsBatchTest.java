package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The serving loop ({@link ReuseportGroup#serveDatagrams}) receives with batched recvmmsg by default, and
 * splits UDP GRO buffers into their segments when the group enables GRO: every datagram reaches the
 * handler exactly once, whole, with its own sender.
 */
@Tag("kernel")
class ServeDatagramsBatchTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @Test
    void batchedServingLoopDeliversEveryDatagramOnceWithItsSource() throws Exception {
        int flows = 8;
        int perFlow = 250;
        Map<Long, Integer> seen = new ConcurrentHashMap<>();
        Map<Integer, Integer> portOfFlow = new ConcurrentHashMap<>();
        ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        AtomicInteger handled = new AtomicInteger();
        AtomicInteger bigLength = new AtomicInteger(-1);
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).port(0).workers(2).open();
             Serving s = g.serveDatagrams(d -> {
                 ByteBuffer p = d.payload();
                 if (p.remaining() > 1000) {
                     bigLength.set(p.remaining());
                 } else {
                     int flow = p.getInt(0);
                     int seq = p.getInt(4);
                     Integer port = portOfFlow.get(flow);
                     if (port == null || port != d.sender().getPort()) {
                         wrong.add("flow " + flow + " from port " + d.sender().getPort() + ", expected " + port);
                     }
                     seen.merge(((long) flow << 32) | seq, 1, Integer::sum);
                 }
                 handled.incrementAndGet();
             })) {
            assertThat(s.receivePath()).contains("recvmmsg");
            List<DatagramChannel> chans = new ArrayList<>();
            try {
                for (int f = 0; f < flows; f++) {
                    DatagramChannel ch = DatagramChannel.open();
                    ch.bind(new InetSocketAddress(LO, 0));
                    ch.connect(g.localAddress());
                    chans.add(ch);
                    portOfFlow.put(f, ((InetSocketAddress) ch.getLocalAddress()).getPort());
                }
                ByteBuffer b = ByteBuffer.allocate(16);
                long deadline = System.nanoTime() + 30_000_000_000L;
                int sent = 0;
                for (int seq = 0; seq < perFlow; seq++) {
                    for (int f = 0; f < flows; f++) {
                        // up to 64 outstanding (about 80 KB of receive buffer even if one socket gets them all): nothing overflows
                        while (sent - handled.get() >= 64 && System.nanoTime() < deadline) {
                            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
                        }
                        b.clear().putInt(f).putInt(seq).putLong(0).flip();
                        chans.get(f).write(b);
                        sent++;
                    }
                }
                // a datagram near the largest: received whole, never truncated by a small slot
                chans.get(0).write(ByteBuffer.allocate(60_000));
                sent++;
                while (handled.get() < sent && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
            } finally {
                for (DatagramChannel ch : chans) {
                    ch.close();
                }
            }
            assertThat(wrong).as("datagrams with the wrong sender").isEmpty();
            assertThat(seen).as("distinct datagrams").hasSize(flows * perFlow);
            assertThat(seen.values()).as("each exactly once").allMatch(c -> c == 1);
            assertThat(bigLength.get()).as("the 60,000-byte datagram's length").isEqualTo(60_000);
            assertThat(s.receiveCalls()).as("recvmmsg calls").isPositive().isLessThanOrEqualTo(flows * perFlow + 1);
        }
    }

    @Test
    void servingLoopSplitsGroBuffersIntoTheSegmentsSent() throws Exception {
        assumeTrue(dev.reuseport.bpf.Probes.ingest().get(0).isOn() && dev.reuseport.bpf.Probes.ingest().get(1).isOn(),
                "UDP_GRO or UDP_SEGMENT is off here");
        ConcurrentLinkedQueue<int[]> got = new ConcurrentLinkedQueue<>(); // {length, first byte, last byte, port}
        try (ReuseportGroup rx = ReuseportGroup.udp().address(LO).port(0).workers(1)
                .ingest(IngestOptions.defaults().udpGro(true)).open();
             ReuseportGroup tx = ReuseportGroup.udp().address(LO).port(0).workers(1).open();
             Serving s = rx.serveDatagrams(d -> {
                 ByteBuffer p = d.payload();
                 got.add(new int[] {p.remaining(), p.get(p.position()), p.get(p.limit() - 1), d.sender().getPort()});
             })) {
            assertThat(s.receivePath()).contains("GRO");
            int[][] shapes = {{64, 40, 0}, {1200, 20, 500}, {100, 10, 37}};
            DatagramBatch out = DatagramBatch.allocate(1, 65_535);
            List<int[]> want = new ArrayList<>();
            int label = 0;
            for (int[] shape : shapes) {
                int seg = shape[0];
                int len = seg * shape[1] + shape[2];
                ByteBuffer p = out.payload(0).clear();
                for (int k = 0; k < len; k++) {
                    p.put(k, (byte) (label + k / seg + 1));
                }
                for (int k = 0; k * seg < len; k++) {
                    int sl = Math.min(seg, len - k * seg);
                    want.add(new int[] {sl, (byte) (label + k + 1), (byte) (label + k + 1), tx.localAddress().getPort()});
                }
                label += (len + seg - 1) / seg;
                out.setLength(0, len);
                out.setSegmentSize(0, seg);
                out.setTarget(0, rx.localAddress());
                out.setCount(1);
                assertThat(tx.workers().get(0).send(out)).isEqualTo(1);
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (got.size() < want.size() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            Thread.sleep(50); // nothing more may arrive
            List<String> a = got.stream().map(java.util.Arrays::toString).toList();
            List<String> b = want.stream().map(java.util.Arrays::toString).toList();
            assertThat(a).as("segments as the handler saw them, in order").isEqualTo(b);
            assertThat(s.receiveCalls()).as("recvmmsg calls: fewer than segments (the trains came coalesced)")
                    .isPositive().isLessThan(want.size());
        }
    }
}
