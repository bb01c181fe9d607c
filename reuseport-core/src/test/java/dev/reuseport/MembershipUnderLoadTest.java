package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Membership changes while UDP traffic flows: with the program attached (here in pass mode, the kernel
 * hash deciding), a removal first steers everything to the survivors, so the leaver's socket is drained
 * and closed with nothing more arriving; and a restart while shadowing keeps the shadow running.
 */
@Tag("kernel")
@Timeout(60)
class MembershipUnderLoadTest {

    @Test
    void removingWorkersUnderTheKernelHashLosesNoDatagram() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(8).receiveBuffer(4 << 20).open();
             TestTraffic t = new TestTraffic(g)) {
            g.applyPolicy(Policy.roundRobin());
            g.applyPolicy(Policy.kernelHash()); // the program stays attached in pass mode
            AtomicBoolean done = new AtomicBoolean();
            AtomicLong sent = new AtomicLong();
            Thread sender = new Thread(() -> {
                DatagramSocket[] socks = new DatagramSocket[4];
                try {
                    for (int i = 0; i < socks.length; i++) {
                        socks[i] = new DatagramSocket(0, TestTraffic.LO);
                    }
                    byte[] b = new byte[16];
                    while (!done.get() && sent.get() < 200_000) {
                        for (DatagramSocket s : socks) {
                            s.send(new DatagramPacket(b, b.length, g.localAddress()));
                            sent.incrementAndGet();
                        }
                        if (sent.get() % 64 == 0) {
                            Thread.sleep(1);
                        }
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                } finally {
                    for (DatagramSocket s : socks) {
                        if (s != null) {
                            s.close();
                        }
                    }
                }
            });
            sender.start();
            Thread.sleep(100);
            for (int slot : new int[] {7, 6, 5, 4}) {
                g.removeWorker(slot);
                Thread.sleep(50);
            }
            done.set(true);
            sender.join();
            long deadline = System.nanoTime() + 5_000_000_000L;
            long got;
            do {
                got = 0;
                for (int s = 0; s < 8; s++) {
                    got += t.served.get(s);
                }
                Thread.sleep(10);
            } while (got < sent.get() && System.nanoTime() < deadline);
            assertThat(g.slots()).containsExactly(0, 1, 2, 3);
            assertThat(got).as("received of %d sent across 4 removals; drains deferred to a worker thread: %s",
                    sent.get(), g.audit().entries().stream().filter(l -> l.contains("drain")).toList())
                    .isEqualTo(sent.get());
            assertThat(g.policy()).isEqualTo(Policy.kernelHash());
        }
    }

    @Test
    void aRestartWhileShadowingKeepsTheShadowRunning() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(4).open();
             TestTraffic t = new TestTraffic(g);
             DatagramSocket s = new DatagramSocket(0, TestTraffic.LO)) {
            assertThat(g.shadow(Policy.roundRobin())).isTrue();
            g.restart();
            MetricsSampler sampler = g.newSampler();
            sampler.sample();
            s.setSoTimeout(5000);
            for (int i = 0; i < 100; i++) {
                s.send(new DatagramPacket(new byte[] {1}, 1, g.localAddress()));
                s.receive(new DatagramPacket(new byte[4], 4));
            }
            GroupMetrics m = sampler.sample();
            long shadow = 0;
            for (WorkerMetrics w : m.workers()) {
                shadow += w.shadow();
            }
            assertThat(shadow).as("datagrams counted by the shadow after the restart").isGreaterThanOrEqualTo(100);
            assertThat(m.shadowImbalance()).isEqualTo(1.0);
            assertThat(g.policy()).isEqualTo(Policy.kernelHash());
        }
    }
}
