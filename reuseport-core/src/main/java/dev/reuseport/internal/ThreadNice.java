package dev.reuseport.internal;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The nice value, or a real-time priority, of a set of threads (a control socket's acceptor and session threads): given to each as it
 * starts ({@link #serving}) and to all of them when it changes ({@link #set}). Linux keeps the nice value per
 * thread (setpriority(PRIO_PROCESS, tid, nice)), so nothing else in the process changes. A thread whose
 * priority may not be raised (setpriority refused: no CAP_SYS_NICE) serves at the priority it had; the
 * refusal is logged once per JVM, and nothing fails. With a real-time priority ({@link #set(int, int)}) the
 * threads run SCHED_RR, ahead of every time-sharing thread: for threads that are idle but for short requests.
 */
public final class ThreadNice {
    /** Whether a refusal was logged already (once per JVM: a socket per hand-off would repeat it). */
    private static final AtomicBoolean REFUSAL_LOGGED = new AtomicBoolean();

    private final String where;
    /** The threads alive now, by thread id. */
    private final Set<Integer> tids = ConcurrentHashMap.newKeySet();
    private int nice;
    /** SCHED_RR's priority, 0: time-sharing (SCHED_OTHER). */
    private int realtime;
    private boolean wasRealtime;

    /**
     * Threads of {@code where} (named in the refusal's log line) at {@code nice}.
     *
     * @param where what the threads serve
     * @param nice  -20..19
     */
    public ThreadNice(String where, int nice) {
        this.where = where;
        this.nice = nice;
    }

    /**
     * {@code r} as one of these threads runs it: the thread gets the nice value first and leaves the set when
     * {@code r} ends.
     *
     * @param r what the thread runs
     * @return the wrapped runnable
     */
    public Runnable serving(Runnable r) {
        return () -> {
            int tid = join();
            try {
                r.run();
            } finally {
                tids.remove(tid);
            }
        };
    }

    private synchronized int join() {
        int tid = Sys.threadId();
        tids.add(tid);
        apply(tid);
        return tid;
    }

    /**
     * Sets the nice value and the real-time priority, and gives them to every thread of the set alive now
     * (later ones get them as they start).
     *
     * @param n  -20..19
     * @param rt 0 (time-sharing: the nice value counts) or 1..99 (SCHED_RR at that priority)
     */
    public synchronized void set(int n, int rt) {
        nice = n;
        realtime = rt;
        wasRealtime |= rt > 0;
        for (int tid : tids) {
            apply(tid);
        }
    }

    /** What {@link #timeSharing} runs. */
    @FunctionalInterface
    public interface Body<T, E extends Exception> {
        T run() throws E;
    }

    /**
     * Runs {@code body} on the calling thread, one of the set, at time-sharing priority (SCHED_OTHER at the
     * set's nice value) when the set is real-time, and gives the thread the set's priority back after. A
     * real-time thread is ahead of every time-sharing thread of the machine, the process's own garbage
     * collector and compilers included: a request that works for long must not run so (in the soak a
     * {@code restart} of every worker took 298 ms at SCHED_RR and 26 ms without), only the short emergency
     * ones. When the set is not
     * real-time, or lowering is refused, {@code body} runs as the thread is.
     *
     * @param body what to run
     * @return what {@code body} returns
     * @throws E what {@code body} throws
     */
    public <T, E extends Exception> T timeSharing(Body<T, E> body) throws E {
        int n;
        int rt;
        synchronized (this) {
            n = nice;
            rt = realtime;
        }
        if (rt == 0) {
            return body.run();
        }
        int tid;
        try {
            tid = Sys.threadId(); // inside: without the native library the body runs as the thread is
            schedule(tid, n, 0);
        } catch (IOException | RuntimeException | LinkageError e) {
            return body.run();
        }
        try {
            return body.run();
        } finally {
            synchronized (this) {
                if (tids.contains(tid)) {
                    apply(tid); // the set's priority as it is now (it may have changed meanwhile)
                }
            }
        }
    }

    /**
     * The nice value the threads are given.
     *
     * @return -20..19
     */
    public synchronized int nice() {
        return nice;
    }

    /**
     * The ids of the threads of the set alive now.
     *
     * @return a snapshot
     */
    public Set<Integer> threads() {
        return Set.copyOf(tids);
    }

    private void apply(int tid) {
        try {
            if (realtime > 0 || wasRealtime) {
                schedule(tid, nice, realtime);
            } else {
                Sys.setThreadNice(tid, nice); // never real-time: the policy is SCHED_OTHER already
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            if (REFUSAL_LOGGED.compareAndSet(false, true)) {
                System.getLogger("dev.reuseport.control").log(System.Logger.Level.WARNING, where + ": its threads "
                        + "serve at their inherited priority, nice " + nice + (realtime > 0 ? " and SCHED_RR "
                        + realtime : "") + " was refused (" + e.getMessage()
                        + "; raising a priority needs CAP_SYS_NICE); logged once");
            }
        }
    }

    /**
     * The calling thread's id (gettid), as {@link #niceOf} and {@link #schedulerOf} take it.
     *
     * @return its id
     */
    public static int callingThread() {
        return Sys.threadId();
    }

    /**
     * Puts the calling thread at SCHED_RR {@code rt} (1..99) or, with 0, at SCHED_OTHER; then at nice value
     * {@code n} ({@link dev.reuseport.ThreadPriority#set}, which checks the ranges).
     *
     * @param n  -20..19
     * @param rt 0..99
     * @throws NativeException sched_setscheduler or setpriority with the errno
     */
    public static void setCallingThread(int n, int rt) throws NativeException {
        schedule(Sys.threadId(), n, rt);
    }

    /** Thread {@code tid} at SCHED_RR {@code rt} or, with 0, SCHED_OTHER; then at nice {@code n}. */
    private static void schedule(int tid, int n, int rt) throws NativeException {
        Sys.setThreadScheduler(tid, rt > 0 ? Sys.SCHED_RR : Sys.SCHED_OTHER, rt);
        Sys.setThreadNice(tid, n);
    }

    /**
     * The nice value of thread {@code tid} of this process ({@code /proc/self/task/<tid>/stat}, field 19).
     *
     * @param tid the thread's id
     * @return its nice value
     * @throws IOException when the thread is gone or the file cannot be read
     */
    public static int niceOf(int tid) throws IOException {
        return Integer.parseInt(stat(tid)[16]); // f[0] is field 3 (state): nice is field 19
    }

    /**
     * The scheduling policy and real-time priority of thread {@code tid} of this process
     * ({@code /proc/self/task/<tid>/stat}, fields 41 and 40).
     *
     * @param tid the thread's id
     * @return {@code [policy (0 SCHED_OTHER, 2 SCHED_RR), priority]}
     * @throws IOException when the thread is gone or the file cannot be read
     */
    public static int[] schedulerOf(int tid) throws IOException {
        String[] f = stat(tid);
        return new int[] {Integer.parseInt(f[38]), Integer.parseInt(f[37])};
    }

    /** The fields of a thread's stat line from the third (its state) on. */
    private static String[] stat(int tid) throws IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }
}
