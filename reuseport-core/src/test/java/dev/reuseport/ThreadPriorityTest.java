package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.internal.ThreadNice;
import dev.reuseport.sys.internal.Sys;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The calling thread's priority, set through {@link ThreadPriority} and read back from the kernel
 * ({@code /proc/self/task/<tid>/stat}): only that thread changes, and it leaves SCHED_RR when asked.
 */
@Tag("kernel")
@Timeout(60)
class ThreadPriorityTest {

    @Test
    void setsOnlyTheCallingThreadAndLeavesRealTimeWhenAskedFor() throws Exception {
        assumeTrue(Sys.uid() == 0, "raising a thread's priority needs CAP_SYS_NICE: run as root");
        int mine = Sys.threadId();
        int niceBefore = ThreadNice.niceOf(mine);
        AtomicReference<Object> seen = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                int tid = Sys.threadId();
                ThreadPriority.set(-7, 0);
                StringBuilder b = new StringBuilder();
                b.append(ThreadPriority.nice()).append(' ').append(ThreadPriority.realtime()).append(' ')
                        .append(ThreadNice.niceOf(tid)).append(' ').append(ThreadNice.schedulerOf(tid)[0]);
                ThreadPriority.set(-2, 5);
                b.append(" | ").append(ThreadPriority.realtime()).append(' ').append(ThreadNice.schedulerOf(tid)[0])
                        .append(' ').append(ThreadPriority.nice());
                ThreadPriority.set(3, 0);
                b.append(" | ").append(ThreadPriority.realtime()).append(' ').append(ThreadNice.schedulerOf(tid)[0])
                        .append(' ').append(ThreadPriority.nice());
                seen.set(b.toString());
            } catch (Throwable e) {
                seen.set(e);
            }
        });
        t.start();
        t.join(30_000);
        assertThat(seen.get()).as("what the thread read").isInstanceOf(String.class);
        assertThat(seen.get()).isEqualTo("-7 0 -7 " + Sys.SCHED_OTHER + " | 5 " + Sys.SCHED_RR + " -2 | 0 "
                + Sys.SCHED_OTHER + " 3");
        assertThat(ThreadNice.niceOf(mine)).as("the calling test thread is untouched").isEqualTo(niceBefore);
        assertThat(ThreadNice.schedulerOf(mine)[0]).isEqualTo(Sys.SCHED_OTHER);
    }

    @Test
    void outOfRangeValuesAreRefusedByNameBeforeAnyCall() throws Exception {
        int before = ThreadPriority.nice();
        assertThatThrownBy(() -> ThreadPriority.set(-21, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nice -21").hasMessageContaining("-20..19");
        assertThatThrownBy(() -> ThreadPriority.set(20, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nice 20");
        assertThatThrownBy(() -> ThreadPriority.set(0, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("realtime -1").hasMessageContaining("1..99");
        assertThatThrownBy(() -> ThreadPriority.set(0, 100)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("realtime 100");
        assertThat(ThreadPriority.nice()).isEqualTo(before);
        assertThat(ThreadPriority.realtime()).isZero();
    }
}
