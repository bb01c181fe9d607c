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
     * docs/reliability.md), which put this one test at four minutes per backend. The cycles run on two
     * threads, 1,000 each (the verifier runs on the opening thread, so two cores verify two programs at
     * once); the census is taken before both start and after both ended, so a leak of either shows.
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
        java.util.concurrent.atomic.AtomicLongArray nanos = new java.util.concurrent.atomic.AtomicLongArray(2);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            java.util.List<java.util.concurrent.Future<Integer>> halves = new java.util.ArrayList<>();
            for (int t = 0; t < 2; t++) {
                halves.add(pool.submit(() -> {
                    int opened = 0;
                    for (int i = 0; i < 1_000; i++) {
                        ReuseportGroup.Builder b = (i % 2 == 0 ? ReuseportGroup.tcp() : ReuseportGroup.udp()).address(lo)
                                .workers(8);
                        long t0 = System.nanoTime();
                        try (ReuseportGroup g = b.open()) {
                            assertThat(g.workers()).hasSize(8);
                        }
                        nanos.addAndGet(i % 2, System.nanoTime() - t0);
                        opened++;
                    }
                    return opened;
                }));
            }
            int cycles = 0;
            for (var h : halves) {
                cycles += h.get(); // a failure on either thread fails the test here
            }
            assertThat(cycles).isEqualTo(2_000);
        } finally {
            pool.shutdownNow();
            assertThat(pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
        // for the record (not asserted: the machine is shared)
        System.out.printf("ReuseportGroupLeakTest: open+close of 8 workers on 2 threads, mean: TCP %.2f ms, UDP %.2f ms%n",
                nanos.get(0) / 1e6 / 1_000, nanos.get(1) / 1e6 / 1_000);
        assertThat(Descriptors.leakedSince(sockets)).as("sockets and BPF objects left open").isEmpty();
        assertThat(Descriptors.count()).as("descriptor count").isLessThanOrEqualTo(before);
    }
}
