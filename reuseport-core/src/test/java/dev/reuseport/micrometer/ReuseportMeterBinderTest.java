package dev.reuseport.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.Connection;
import dev.reuseport.ReuseportGroup;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The Micrometer binder exports per-worker series from the group's real counters. */
@Tag("kernel")
class ReuseportMeterBinderTest {

    @Test
    void perWorkerSeriesCarryTheSlotTagAndRealCounts() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(2).open()) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new ReuseportMeterBinder(g, Duration.ZERO, Tags.of("service", "test")).bindTo(registry);
            try (Socket s = new Socket(lo, g.localAddress().getPort())) {
                Connection c = null;
                for (int i = 0; i < 2 && c == null; i++) {
                    c = g.worker(i).accept(Duration.ofMillis(200));
                }
                assertThat(c).isNotNull();
                int slot = c.slot();
                c.close();
                double accepted = registry.get("reuseport.worker.accepted").tags("slot", Integer.toString(slot), "service",
                        "test").functionCounter().count();
                assertThat(accepted).isEqualTo(1.0);
                assertThat(registry.get("reuseport.worker.queue.depth").tags("slot", "0").gauge().value()).isZero();
                assertThat(registry.find("reuseport.worker.drops").functionCounters()).hasSize(2);
            }
        }
    }

    @Test
    void perWorkerMetersFollowResizeAndTheStateGaugeTheController() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(2).open()) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new ReuseportMeterBinder(g, Duration.ZERO, Tags.empty()).bindTo(registry);
            assertThat(registry.find("reuseport.worker.accepted").functionCounters()).hasSize(2);
            assertThat(registry.get("reuseport.control.state").tags("state", "NONE").gauge().value()).isEqualTo(1.0);
            g.resize(4);
            registry.get("reuseport.imbalance.ratio").gauge().value(); // a scrape: the binder's next window
            assertThat(registry.find("reuseport.worker.accepted").functionCounters())
                    .extracting(c -> c.getId().getTag("slot")).containsExactlyInAnyOrder("0", "1", "2", "3");
            assertThat(registry.get("reuseport.worker.queue.limit").tags("slot", "3").gauge().value()).isPositive();
            g.resize(1);
            registry.get("reuseport.imbalance.ratio").gauge().value();
            assertThat(registry.find("reuseport.worker.accepted").functionCounters())
                    .extracting(c -> c.getId().getTag("slot")).containsExactly("0");
            assertThat(registry.find("reuseport.worker.queue.depth").gauges()).hasSize(1);
            assertThat(registry.get("reuseport.workers").gauge().value()).isEqualTo(1.0);
            try (dev.reuseport.Controller c = dev.reuseport.Controller.manual(g, dev.reuseport.Policy.roundRobin(),
                    dev.reuseport.Controller.Settings.defaults())) {
                assertThat(registry.get("reuseport.control.state").tags("state", "OBSERVE").gauge().value())
                        .isEqualTo(1.0);
                assertThat(registry.get("reuseport.control.state").tags("state", "NONE").gauge().value()).isZero();
            }
        }
    }
}
