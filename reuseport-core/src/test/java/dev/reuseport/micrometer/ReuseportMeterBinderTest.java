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
}
