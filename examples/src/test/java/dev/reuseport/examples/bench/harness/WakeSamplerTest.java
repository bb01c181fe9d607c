package dev.reuseport.examples.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * {@code bench soak}'s machine floor: the percentiles are read off the per-microsecond counts as written,
 * a malformed report line is refused, and a real sampler JVM counts wake-ups of its sleep for as long as it
 * runs and stops when asked.
 */
class WakeSamplerTest {

    @Test
    void percentilesAndTheCountAboveAMillisecondComeFromTheCounts() {
        long[] counts = new long[5_000];
        counts[60] = 90; // 90 wake-ups 60 us late
        counts[400] = 9; // 9 at 400 us
        counts[3_000] = 1; // one at 3 ms
        assertThat(WakeSampler.percentile(counts, 100, 0.50)).isEqualTo(60);
        assertThat(WakeSampler.percentile(counts, 100, 0.90)).isEqualTo(60);
        assertThat(WakeSampler.percentile(counts, 100, 0.99)).isEqualTo(400);
        assertThat(WakeSampler.percentile(counts, 100, 1.0)).isEqualTo(3_000);
        assertThat(WakeSampler.above(counts, 1_000)).isEqualTo(1);
        assertThat(WakeSampler.above(counts, 100)).isEqualTo(10);
    }

    @Test
    void aReportLineIsReadOnlyWhenItIsFiveNumbers() {
        assertThat(WakeSampler.Report.parse("1000 55 300 4200 3 777"))
                .isEqualTo(new WakeSampler.Report(1000, 55, 300, 4200, 3, 777));
        assertThat(WakeSampler.Report.parse("1000 55 300 4200 3")).isNull();
        assertThat(WakeSampler.Report.parse("1000 55 300 4200 3 x")).isNull();
    }

    @Test
    void aPriorityOutsideTheSchedulersRangeIsRefusedNamingIt() {
        assertThatThrownBy(() -> WakeSampler.start(100)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("100").hasMessageContaining("1..99");
    }

    @Test
    void aSamplerJvmCountsItsWakeUpsUntilStopped() throws Exception {
        WakeSampler.Report r;
        try (WakeSampler s = WakeSampler.start(0)) {
            Thread.sleep(1_000);
            r = s.stop();
        }
        // 500 us sleeps for about a second: hundreds of wake-ups, however late some were
        assertThat(r.wakes()).isBetween(100L, 2_100L);
        assertThat(r.p50()).isLessThanOrEqualTo(r.p99());
        assertThat(r.p99()).isLessThanOrEqualTo(r.max());
    }
}
