package dev.reuseport;

import dev.reuseport.internal.ThreadNice;
import dev.reuseport.sys.NativeException;
import java.io.IOException;

/**
 * The calling thread's scheduling priority (setpriority(2) on its thread id, sched_setscheduler(2)), for a
 * thread that must run soon when the machine is busy: an operator's client of the control socket, a probe,
 * a latency-critical worker. Linux keeps both per thread, so nothing else in the process changes. The
 * control socket's own threads are set with {@link ControlSocket#servingPriority}; this is the same lever
 * for a thread the application owns.
 *
 * <p>Raising a priority (a negative nice value, any real-time one) needs CAP_SYS_NICE or an
 * {@code RLIMIT_NICE}/{@code RLIMIT_RTPRIO} that allows it; a refusal is a {@link NativeException} naming
 * the call and the errno (EACCES, EPERM), and the thread stays as it was.
 */
public final class ThreadPriority {
    /** The most favoured nice value. */
    public static final int MIN_NICE = -20;
    /** The least favoured nice value. */
    public static final int MAX_NICE = 19;
    /** The highest SCHED_RR priority. */
    public static final int MAX_REALTIME = 99;

    private ThreadPriority() {
    }

    /**
     * Sets the calling thread's priority: with {@code realtime} 1..99 it runs SCHED_RR at that priority,
     * ahead of every time-sharing thread of the machine (keep such a thread's work short); with 0 it runs
     * time-sharing (SCHED_OTHER, leaving SCHED_RR if it was there) and {@code nice} orders it among the
     * time-sharing threads. The nice value is set in both cases (it counts again when the thread leaves
     * SCHED_RR).
     *
     * @param nice     {@value #MIN_NICE} (most favoured) to {@value #MAX_NICE}
     * @param realtime 0 (time-sharing) or 1..{@value #MAX_REALTIME} (SCHED_RR at that priority)
     * @throws IllegalArgumentException when {@code nice} is outside -20..19 or {@code realtime} outside 0..99
     * @throws NativeException sched_setscheduler or setpriority with the errno (EPERM or EACCES: not allowed);
     *                         when the scheduler call is refused the nice value is left as it was
     */
    public static void set(int nice, int realtime) throws NativeException {
        check(nice, realtime);
        ThreadNice.setCallingThread(nice, realtime);
    }

    /**
     * Checks a priority as {@link #set} takes it, without setting anything.
     *
     * @param nice     -20..19
     * @param realtime 0..99
     * @throws IllegalArgumentException naming both values and what is accepted, when either is out of range
     */
    public static void check(int nice, int realtime) {
        if (nice < MIN_NICE || nice > MAX_NICE || realtime < 0 || realtime > MAX_REALTIME) {
            throw new IllegalArgumentException("nice " + nice + ", realtime " + realtime + "; accepted: nice "
                    + MIN_NICE + ".." + MAX_NICE + ", realtime 0 (time-sharing) or 1.." + MAX_REALTIME
                    + " (SCHED_RR)");
        }
    }

    /**
     * The calling thread's nice value, read from the kernel ({@code /proc/self/task/<tid>/stat}).
     *
     * @return -20..19
     * @throws IOException when the file cannot be read
     */
    public static int nice() throws IOException {
        return ThreadNice.niceOf(ThreadNice.callingThread());
    }

    /**
     * The calling thread's real-time priority, read from the kernel ({@code /proc/self/task/<tid>/stat}).
     *
     * @return 1..99 when it runs SCHED_RR or SCHED_FIFO, 0 when it runs time-sharing
     * @throws IOException when the file cannot be read
     */
    public static int realtime() throws IOException {
        return ThreadNice.schedulerOf(ThreadNice.callingThread())[1];
    }
}
