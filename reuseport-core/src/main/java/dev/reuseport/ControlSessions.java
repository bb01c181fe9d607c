package dev.reuseport;

import dev.reuseport.internal.wire.ControlLines;
import java.io.IOException;
import dev.reuseport.internal.ThreadNice;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;

/**
 * Who may open a {@link ControlSocket} session, the threads its sessions run on, and the steps of its
 * rehearsal request. A request never waits for a thread to be created and started (on a loaded machine
 * several scheduling rounds, which the emergency {@code fallback} must not pay): {@link #STANDING} threads
 * start with the socket and wait for clients until it closes; more start only while more sessions are open
 * (up to the session cap), each kept 30 s after its session.
 */
final class ControlSessions {
    /**
     * Commands that run at the serving threads' real-time priority when one is set
     * ({@link ControlSocket#servingPriority}): the emergency lever and the health check. Every other command,
     * and a hand-off's exchange, runs at time-sharing priority (the serving nice value): in the soak, with
     * every command at SCHED_RR, a session thread ran 180 ms without a break, a hostile client's
     * {@code restart} took 298 ms (26 ms at time-sharing), and an operator's {@code fallback} in the same
     * process waited 285 ms outside the group.
     */
    static final java.util.Set<String> URGENT = java.util.Set.of("fallback", "health");

    /**
     * Sessions admitted past {@link ControlSocket#MAX_SESSIONS} for one {@link #URGENT} request each, which
     * must come within {@link #URGENT_ONLY_DEADLINE_NANOS}: 64 idle or hostile clients of the serving uid
     * (a tool that leaks connections) would otherwise answer an operator's {@code fallback} with
     * {@code ERR busy} for as long as they stay, up to the 30 s request deadline each.
     */
    static final int URGENT_ONLY = 4;
    /** How long a session admitted past the cap waits for its request line: 2 s. */
    static final long URGENT_ONLY_DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** The reply to a client turned away because {@code max} sessions are open. */
    static String busy(int max) {
        return "ERR busy: " + max + " sessions open; accepted: at most " + max + " at a time (past them only "
                + String.join(" and ", new java.util.TreeSet<>(URGENT)) + "), retry later";
    }

    /**
     * Session threads started with the socket and kept running, idle, until it closes: four, so that a
     * {@code fallback} finds one waiting while others serve a long session, a hand-off and a session still
     * ending (bench soak with two: 7 of 245 probes were their thread's first session, some of them on a
     * thread started for them, and waited up to 3 ms for it).
     */
    static final int STANDING = 4;

    private ControlSessions() {
    }

    /** {@link #mark} slots: the moments of a request's path through a session. */
    static final int ACCEPTED = 0;
    static final int BEGAN = 1;
    static final int READ = 2;
    static final int RAN = 3;
    static final int WRITTEN = 4;
    /**
     * How many sessions this thread began before the one in progress; -1: a thread started for it (beyond
     * the standing ones).
     */
    static final int SESSIONS_BEFORE = 5;
    private static final int MARKS = 6;
    /**
     * Per session thread, {@link System#nanoTime()} (CLOCK_MONOTONIC, comparable across processes) of the
     * request in progress: the accept returned, its session began on this thread, the request line was read,
     * the command ran, the reply was written, the sessions the thread began before; then the same six of the
     * request before it; then the sessions the thread began. A diagnostic
     * (bench soak's fallback probe reads it through a command of its own: {@link #previousRequest}).
     */
    private static final ThreadLocal<long[]> TIMES = ThreadLocal.withInitial(() -> new long[2 * MARKS + 1]);

    /** A session accepted at {@code acceptedAt} begins on this thread. */
    static void began(long acceptedAt) {
        long[] t = TIMES.get();
        long before = t[2 * MARKS];
        java.util.Arrays.fill(t, 0, 2 * MARKS, 0);
        t[2 * MARKS] = before + 1;
        t[SESSIONS_BEFORE] = before == 0 && Thread.currentThread().getName().endsWith(EXTRA) ? -1 : before;
        t[ACCEPTED] = acceptedAt;
        t[BEGAN] = System.nanoTime();
    }

    /** Marks a moment of the request in progress; {@link #READ} starts a request, keeping the one before. */
    static void mark(int slot) {
        long now = System.nanoTime();
        long[] t = TIMES.get();
        if (slot == READ) {
            if (t[READ] != 0) {
                System.arraycopy(t, 0, t, MARKS, MARKS);
                t[ACCEPTED] = 0;
                t[BEGAN] = 0;
            } else {
                java.util.Arrays.fill(t, MARKS, 2 * MARKS, 0);
            }
            t[RAN] = 0;
            t[WRITTEN] = 0;
        }
        t[slot] = now;
    }

    /**
     * The moments of the request before the one in progress on this session's thread (a command asking
     * about the previous one): accepted, began (0 when it was not the session's first request), read, ran,
     * written, as {@link System#nanoTime()}, and how many sessions the thread began before that request's
     * (-1: a thread started for it beyond the standing ones); all 0 when there was none.
     */
    static long[] previousRequest() {
        return java.util.Arrays.copyOfRange(TIMES.get(), MARKS, 2 * MARKS);
    }

    /** The end of the name of a session thread started beyond the standing ones. */
    private static final String EXTRA = "-extra";

    /**
     * The session threads of one socket, {@link #STANDING} of them started; daemons, each joining
     * {@code priority} as it starts.
     */
    static ThreadPoolExecutor threads(int maxSessions, ThreadNice priority) {
        AtomicInteger made = new AtomicInteger();
        ThreadPoolExecutor p = new ThreadPoolExecutor(STANDING, maxSessions + 1, 30, TimeUnit.SECONDS,
                new SynchronousQueue<>(), r -> {
                    Thread t = new Thread(priority.serving(r), "reuseport-control-session"
                            + (made.getAndIncrement() < STANDING ? "" : EXTRA));
                    t.setDaemon(true);
                    return t;
                });
        p.prestartAllCoreThreads();
        return p;
    }

    /**
     * Asks a control socket bound at {@code boundAt} (not yet at its path, so the only client) for
     * {@code health}, which changes nothing, and waits until that session has ended: the accept, session and
     * reply path run once, so that the first real client's request (an emergency {@code fallback}) pays no
     * first-use cost (classes loaded and initialised, call sites linked, buffers allocated); then runs
     * {@code prepare} (the socket's: its fallback command's texts). A failure is logged, never thrown.
     */
    static void rehearse(Path boundAt, AtomicInteger sessions, Runnable prepare) {
        try (UnixSocketChannel c = UnixSocketChannel.open(new UnixSocketAddress(boundAt.toFile()))) {
            c.setOption(UnixSocketOptions.SO_RCVTIMEO, 5_000);
            ControlLines l = new ControlLines(c.getFD());
            l.writeLine("health");
            for (String r = l.readLine(); r != null && !r.startsWith("OK") && !r.startsWith("ERR"); r = l.readLine()) {
                // the reply's body, if any
            }
        } catch (IOException | RuntimeException e) {
            System.getLogger("dev.reuseport.control").log(System.Logger.Level.DEBUG, "control socket at " + boundAt
                    + ": rehearsal request: " + e);
        }
        prepare.run();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (sessions.get() > 0 && System.nanoTime() < end) { // the session count is exact again after it
            LockSupport.parkNanos(100_000);
        }
    }

    /**
     * Whether a peer of {@code peerUid} may use a socket served as {@code uid}: that uid or root, and never
     * the overflow uid, which the kernel shows for a peer not mapped into this user namespace (a server
     * running as the overflow uid would otherwise serve every unmapped user).
     */
    static boolean peerAllowed(int peerUid, int uid, int overflowUid) {
        return peerUid != overflowUid && (peerUid == uid || peerUid == 0);
    }

    /** Why a peer of {@code peerUid} was refused by a socket served as {@code uid}, for its ERR line. */
    static String refusal(int peerUid, int uid, int overflowUid) {
        return "uid " + peerUid + " may not use this socket; accepted: uid " + uid + " or root"
                + (peerUid == overflowUid ? " (uid " + overflowUid + " is the overflow uid of peers not mapped "
                + "into this user namespace, never served)" : "");
    }

    /** The file's device and inode. */
    static Object[] fileKey(Path p) throws IOException {
        return new Object[] {Files.getAttribute(p, "unix:dev", LinkOption.NOFOLLOW_LINKS),
            Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS)};
    }

    /** Whether a server listens at {@code p}. */
    static boolean isLive(Path p) {
        try (UnixSocketChannel c = UnixSocketChannel.open(new UnixSocketAddress(p.toFile()))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }
}
