package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.Descriptors;
import java.net.InetAddress;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Opening and closing groups over and over leaves the process's descriptor count where it was. */
@Tag("kernel")
class ReuseportGroupLeakTest {

    /**
     * 2,000 cycles (half of them TCP groups that load and attach the select-or-migrate program, half UDP):
     * a leak of one descriptor or BPF object per cycle, or per thousand, shows. It was 10,000 until the
     * dissectors made the program's verification take tens of milliseconds per TCP open (see
     * docs/reliability.md), which put this one test at four minutes per backend.
     */
    @Test
    void twoThousandOpenCloseCyclesOfEightWorkersLeakNoDescriptor() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        // warm up class loading (which may open JARs) before taking the baseline
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).workers(8).open()) {
            g.stats();
        }
        int before = Descriptors.count();
        var sockets = Descriptors.sockets();
        for (int i = 0; i < 2_000; i++) {
            ReuseportGroup.Builder b = (i % 2 == 0 ? ReuseportGroup.tcp() : ReuseportGroup.udp()).address(lo).workers(8);
            try (ReuseportGroup g = b.open()) {
                assertThat(g.workers()).hasSize(8);
            }
        }
        assertThat(Descriptors.leakedSince(sockets)).as("sockets and BPF objects left open").isEmpty();
        assertThat(Descriptors.count()).as("descriptor count").isLessThanOrEqualTo(before);
    }
}
