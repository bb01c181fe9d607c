package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.Descriptors;
import java.net.InetAddress;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Opening and closing groups over and over leaves the process's descriptor count where it was. */
@Tag("kernel")
class ReuseportGroupLeakTest {

    @Test
    void tenThousandOpenCloseCyclesOfEightWorkersLeakNoDescriptor() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        // warm up class loading (which may open JARs) before taking the baseline
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(8).open()) {
            g.stats();
        }
        int before = Descriptors.count();
        var sockets = Descriptors.sockets();
        for (int i = 0; i < 10_000; i++) {
            ReuseportGroup.Builder b = (i % 2 == 0 ? ReuseportGroup.tcp() : ReuseportGroup.udp()).address(lo).workers(8);
            try (ReuseportGroup g = b.open()) {
                assertThat(g.workers()).hasSize(8);
            }
        }
        assertThat(Descriptors.leakedSince(sockets)).as("sockets and BPF objects left open").isEmpty();
        assertThat(Descriptors.count()).as("descriptor count").isLessThanOrEqualTo(before);
    }
}
