package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Each metric against ground truth on the real kernel. */
@Tag("kernel")
@Timeout(120)
class MetricsGroundTruthTest {

    @Test
    void connectionsHeldUnacceptedAreTheQueueDepth() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).backlog(64).open()) {
            MetricsSampler sampler = g.newSampler();
            List<SocketChannel> held = new ArrayList<>();
            try {
                for (int i = 0; i < 17; i++) {
                    held.add(SocketChannel.open(g.localAddress()));
                }
                WorkerMetrics w = awaitQueue(sampler, 17);
                assertThat(w.queueDepth()).isEqualTo(17);
                assertThat(w.queueLimit()).isEqualTo(64);
                assertThat(g.worker(0).accept(Duration.ofSeconds(1))).isNotNull().satisfies(c -> c.close());
                assertThat(sampler.sample().workers().get(0).queueDepth()).isEqualTo(16);
            } finally {
                for (SocketChannel c : held) {
                    c.close();
                }
            }
        }
    }

    private static WorkerMetrics awaitQueue(MetricsSampler s, int n) throws Exception {
        long deadline = System.nanoTime() + 3_000_000_000L;
        WorkerMetrics w;
        do {
            w = s.sample().workers().get(0);
            if (w.queueDepth() == n) {
                return w;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        return w;
    }

    @Test
    void overflowingTheBacklogRaisesTheDropCounter() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).backlog(3).open()) {
            MetricsSampler sampler = g.newSampler();
            long before = sampler.sample().drops();
            List<SocketChannel> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 10; i++) {
                    SocketChannel c = SocketChannel.open();
                    c.configureBlocking(false);
                    c.connect(g.localAddress());
                    clients.add(c);
                }
                long deadline = System.nanoTime() + 3_000_000_000L;
                GroupMetrics m;
                do {
                    Thread.sleep(20);
                    m = sampler.sample();
                } while (m.drops() == before && System.nanoTime() < deadline);
                // the kernel admits backlog + 1 into the accept queue and drops the rest's handshakes
                assertThat(m.workers().get(0).queueDepth()).isEqualTo(4);
                assertThat(m.drops() - before).isPositive();
                assertThat(m.netstat()).containsKey("ListenOverflows");
            } finally {
                for (SocketChannel c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void floodingASmallUdpBufferDropsExactlySentMinusReceived() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(1).receiveBuffer(4096).open();
             DatagramSocket sender = new DatagramSocket(0, TestTraffic.LO)) {
            MetricsSampler sampler = g.newSampler();
            long dropsBefore = sampler.sample().drops();
            int sent = 2000;
            byte[] payload = new byte[200];
            for (int i = 0; i < sent; i++) {
                sender.send(new DatagramPacket(payload, payload.length, g.localAddress()));
            }
            ByteBuffer b = ByteBuffer.allocate(512);
            int received = 0;
            while (g.worker(0).receive(b.clear(), Duration.ofMillis(200)) != null) {
                received++;
            }
            GroupMetrics m = sampler.sample();
            assertThat(received).as("a 4 KiB buffer cannot hold 2000 datagrams").isLessThan(sent);
            assertThat(m.drops() - dropsBefore).isEqualTo(sent - received);
            assertThat(m.workers().get(0).received()).isEqualTo(received);
        }
    }

    @Test
    void shadowCountersEqualWhatThePolicyWouldChoose() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(4).open();
             TestTraffic t = new TestTraffic(g);
             DatagramSocket sender = new DatagramSocket(0, TestTraffic.LO)) {
            assertThat(g.shadow(Policy.roundRobin())).isTrue();
            MetricsSampler sampler = g.newSampler();
            sender.setSoTimeout(5000);
            for (int i = 0; i < 400; i++) {
                sender.send(new DatagramPacket(new byte[] {1}, 1, g.localAddress()));
                sender.receive(new DatagramPacket(new byte[4], 4));
            }
            GroupMetrics m = sampler.sample();
            for (WorkerMetrics w : m.workers()) {
                assertThat(w.shadow()).as("slot %d would have had", w.slot()).isEqualTo(100);
                assertThat(w.selected()).isZero();
            }
            // one sender is one flow: the kernel hash put all 400 on one worker, round robin would spread them
            assertThat(m.imbalance()).isEqualTo(4.0);
            assertThat(m.shadowImbalance()).isEqualTo(1.0);
            assertThat(g.capabilities().steeringReason()).startsWith("shadowing round-robin");
        }
    }

    @Test
    void recordedLatencyGivesThePercentilesOfTheWindow() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(2).open()) {
            MetricsSampler sampler = g.newSampler();
            for (int i = 0; i < 990; i++) {
                g.worker(0).recordLatency(100_000); // 100 us
            }
            for (int i = 0; i < 10; i++) {
                g.worker(0).recordLatency(20_000_000); // 20 ms
            }
            for (int i = 0; i < 1000; i++) {
                g.worker(1).recordLatency(100_000);
            }
            GroupMetrics m = sampler.sample();
            WorkerMetrics w0 = m.workers().get(0);
            assertThat(w0.samples()).isEqualTo(1000);
            assertThat(w0.p50Micros()).isBetween(99L, 101L);
            assertThat(w0.p99Micros()).isBetween(99L, 101L);
            assertThat(w0.p999Micros()).isBetween(19_900L, 20_100L);
            assertThat(m.p99Divergence()).isEqualTo(1.0);
            for (int i = 0; i < 100; i++) {
                g.worker(0).recordLatency(5_000_000);
            }
            GroupMetrics next = sampler.sample();
            assertThat(next.workers().get(0).samples()).as("the next window holds only what came after").isEqualTo(100);
            assertThat(next.workers().get(0).p50Micros()).isBetween(4_990L, 5_010L);
            assertThat(next.workers().get(1).samples()).isZero();
        }
    }

    @Test
    void prometheusTextNamesEveryWorker() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(3).open()) {
            String prom = g.newSampler().sample().toPrometheus();
            for (int s = 0; s < 3; s++) {
                assertThat(prom).contains("reuseport_worker_queue_limit{slot=\"" + s + "\"} 1024");
            }
            assertThat(prom).contains("# TYPE reuseport_imbalance_ratio gauge");
        }
    }
}
