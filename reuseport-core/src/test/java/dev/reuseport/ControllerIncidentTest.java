package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The playbook's incident, end to end on real traffic: heavy UDP senders skew the kernel hash, the
 * controller shadows round robin, enforces it, and falls back when an injected latency regression holds
 * for K windows; every step is in the audit trail.
 */
@Tag("kernel")
@Timeout(120)
class ControllerIncidentTest {
    private static final int K = 2;

    /** Workers that echo and record a latency, multiplied by {@code slowdown}. */
    private static final class Server implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong slowdown = new AtomicLong(1);
        final List<Thread> threads = new ArrayList<>();

        Server(ReuseportGroup g) {
            for (Worker w : g.workers()) {
                Thread t = new Thread(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(64);
                    while (!stop.get()) {
                        try {
                            InetSocketAddress from = w.receive(b.clear(), Duration.ofMillis(20));
                            if (from != null) {
                                w.recordLatency(50_000 * slowdown.get());
                            }
                        } catch (Exception e) {
                            return;
                        }
                    }
                });
                t.start();
                threads.add(t);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            for (Thread t : threads) {
                t.join(2000);
            }
        }
    }

    private static long sent;

    /**
     * One window of traffic from 4 heavy flows; once the workers have received all of it (so that no
     * window counts another's backlog), the controller's verdict.
     */
    private static GroupMetrics window(Controller c, List<DatagramSocket> flows, InetSocketAddress to) throws Exception {
        byte[] p = new byte[32];
        for (int i = 0; i < 100; i++) {
            for (DatagramSocket s : flows) {
                s.send(new DatagramPacket(p, p.length, to));
                sent++;
            }
            if (i % 10 == 9) {
                Thread.sleep(2);
            }
        }
        ReuseportGroup g = c.group();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (g.stats().stream().mapToLong(WorkerStats::received).sum() < sent && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return c.tick();
    }

    @Test
    void heavySendersAreShadowedEnforcedAndAnInjectedRegressionFallsBackWithinKWindows() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(TestTraffic.LO).workers(8).receiveBuffer(1 << 20).open();
             Server server = new Server(g)) {
            List<DatagramSocket> flows = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                flows.add(new DatagramSocket(0, TestTraffic.LO));
            }
            sent = 0;
            Controller.Settings s = new Controller.Settings(Duration.ofMillis(200), K, 1.5, 0.8, 10, 2.0, 5,
                    Duration.ofMinutes(5), true);
            try (Controller c = Controller.manual(g, Policy.roundRobin(), s)) {
                c.tick(); // start the first window now
                GroupMetrics m = null;
                for (int i = 0; i < K; i++) {
                    assertThat(c.state()).isEqualTo(Controller.State.OBSERVE);
                    m = window(c, flows, g.localAddress());
                }
                // 4 flows over 8 workers by hash: at best 4 busy, 4 idle
                assertThat(m.imbalance()).isGreaterThanOrEqualTo(2.0);
                assertThat(c.state()).isEqualTo(Controller.State.SHADOW);
                for (int i = 0; i < K; i++) {
                    m = window(c, flows, g.localAddress());
                }
                assertThat(m.shadowImbalance()).as("round robin would spread 4 flows evenly").isLessThanOrEqualTo(1.05);
                assertThat(c.state()).isEqualTo(Controller.State.ENFORCE);
                m = window(c, flows, g.localAddress());
                assertThat(m.imbalance()).as("enforced round robin").isLessThanOrEqualTo(1.1);
                assertThat(c.state()).isEqualTo(Controller.State.ENFORCE);
                server.slowdown.set(10); // inject: every request now takes 10x as long
                int windows = 0;
                while (c.state() == Controller.State.ENFORCE && windows < K + 1) {
                    window(c, flows, g.localAddress());
                    windows++;
                }
                assertThat(c.state()).isEqualTo(Controller.State.FALLBACK);
                assertThat(windows).as("windows from the regression to FALLBACK").isEqualTo(K);
                // the decision-to-kernel-default time is a figure of bench control (149 us on a quiet machine,
                // target 1 ms there); here, in a suite JVM that a GC or JIT pause may catch (3.0 ms once on
                // JDK 17 in a full run, under 1 ms alone), it must show no wait behind a lock or a window
                assertThat(c.lastFallbackNanos()).isPositive().isLessThan(50_000_000);
                assertThat(g.policy()).isEqualTo(Policy.kernelHash());
                List<String> audit = g.audit().entries();
                assertThat(audit).anyMatch(l -> l.contains("\"from\":\"OBSERVE\",\"to\":\"SHADOW\""))
                        .anyMatch(l -> l.contains("\"from\":\"SHADOW\",\"to\":\"ENFORCE\""))
                        .anyMatch(l -> l.contains("\"from\":\"ENFORCE\",\"to\":\"FALLBACK\"") && l.contains("p99"))
                        .allMatch(l -> l.contains("\"kernel\":\"") && l.contains("\"backend\":\""));
                assertThatThrownBy(() -> c.to(Controller.State.ENFORCE, "too soon"))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessage("transition FALLBACK -> ENFORCE is not allowed; accepted from FALLBACK: [OBSERVE, FALLBACK]");
                assertThat(c.state()).isEqualTo(Controller.State.FALLBACK);
                c.to(Controller.State.OBSERVE, "incident closed");
                assertThat(c.state()).isEqualTo(Controller.State.OBSERVE);
            } finally {
                for (DatagramSocket f : flows) {
                    f.close();
                }
            }
        }
    }
}
