package dev.reuseport;

import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.wire.ControlLines;
import dev.reuseport.internal.wire.Shown;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * The operator's Unix control socket for one group (jnr-unixsocket): created with mode 0600 inside a
 * directory owned by this user and writable by no one else; each peer's uid is checked with
 * SO_PEERCRED, and only this process's uid (or root) is served. Requests are single lines; each reply
 * is zero or more body lines followed by a last line {@code OK} or {@code ERR <message>}. A bad request
 * gets an ERR naming the value and what is accepted, leaves the group as it was, and the socket keeps
 * serving. Descriptors are only ever sent to a verified peer (the {@code handoff} command).
 */
public final class ControlSocket implements AutoCloseable {
    /** What separates words of a request: ASCII whitespace, the same set that is trimmed at its edges. */
    private static final java.util.regex.Pattern WHITESPACE = java.util.regex.Pattern.compile("[ \\t\\n\\x0B\\f\\r]+");
    private static final java.util.regex.Pattern WHITESPACE_EDGES =
            java.util.regex.Pattern.compile("^[ \\t\\n\\x0B\\f\\r]+|[ \\t\\n\\x0B\\f\\r]+$");
    private static final System.Logger LOG = System.getLogger("dev.reuseport.control");

    /**
     * A command of the control socket. It runs on the thread of the client's session: requests of one
     * client run one after another, those of several clients concurrently.
     */
    @FunctionalInterface
    public interface Command {
        /**
         * Runs the command for one request.
         *
         * @param args the request's words after the command name (the line is split on whitespace)
         * @param body where to add the reply's body lines; a line starting with {@code OK} or {@code ERR}
         *             is sent with a leading blank so that it cannot end the reply
         * @return the text of the final {@code OK} line, or null or empty for a plain {@code OK}
         * @throws IOException when the command fails; the client gets {@code ERR <name> failed: <message>}.
         *                     Throw IllegalArgumentException, IllegalStateException or
         *                     UnsupportedOperationException instead for a refusal: the client gets
         *                     {@code ERR <message>}, which should name the value and what is accepted.
         */
        String run(List<String> args, List<String> body) throws IOException;
    }

    private final ReuseportGroup group;
    /** The hand-off this socket runs for the {@code handoff} command (a test's reports each step). */
    private final Handoff handoff;
    private final Path path;
    private final UnixServerSocketChannel server;
    private final Map<String, Command> commands = new LinkedHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch handedOff = new CountDownLatch(1);
    private final AtomicLong refusedPeers = new AtomicLong();
    private final Thread acceptor;
    private final int uid = Sys.uid();
    /** The uid the kernel shows for a peer not mapped into this user namespace (never served). */
    private final int overflowUid = overflowUid();
    /** Sessions open now; beyond {@link #MAX_SESSIONS} a client gets {@code ERR busy}. */
    private final java.util.concurrent.atomic.AtomicInteger sessions = new java.util.concurrent.atomic.AtomicInteger();
    /** Sessions admitted past the cap for one emergency request ({@link ControlSessions#URGENT_ONLY}). */
    private final java.util.concurrent.atomic.AtomicInteger urgentOnly = new java.util.concurrent.atomic.AtomicInteger();
    /** Sessions turned away busy. */
    private final AtomicLong busy = new AtomicLong();
    /** Per open session, the moment its request must be complete by; ends late ones. */
    private final dev.reuseport.internal.wire.RequestDeadlines deadlines = new dev.reuseport.internal.wire.RequestDeadlines();
    /** Ends sessions whose request is not complete by its deadline; started with the acceptor. */
    private final Thread reaper;
    /** The nice value of the acceptor and session threads ({@link #servingPriority}). */
    private final dev.reuseport.internal.ThreadNice priority;
    private final java.util.concurrent.ThreadPoolExecutor sessionThreads;
    /** The socket file as bound (device and inode), so that only that file is ever unlinked. */
    private volatile Object[] boundFile;

    /**
     * Sessions served at once. Past it a few more ({@link ControlSessions#URGENT_ONLY}) are admitted for one
     * request of {@code fallback} or {@code health} within 2 s, anything else answered {@code ERR busy}; past
     * those a client gets {@code ERR busy} at once and is closed.
     */
    public static final int MAX_SESSIONS = 64;
    /**
     * How long a session may take to send a complete request line (from the end of the previous reply);
     * past it the session is closed. A command's own run time is not counted.
     */
    public static final Duration REQUEST_DEADLINE = Duration.ofSeconds(30);
    /** {@link #REQUEST_DEADLINE}, shorter in tests ({@link #requestDeadline(Duration)}). */
    private volatile long requestDeadlineNanos = REQUEST_DEADLINE.toNanos();

    /** Sets this socket's request deadline (tests); package-private. */
    ControlSocket requestDeadline(Duration d) {
        requestDeadlineNanos = d.toNanos();
        return this;
    }

    private ControlSocket(ReuseportGroup group, Path path, UnixServerSocketChannel server, Handoff handoff) {
        this.group = group;
        this.handoff = handoff;
        this.path = path;
        this.server = server;
        this.priority = new dev.reuseport.internal.ThreadNice("control socket " + path, DEFAULT_SERVING_NICE);
        this.sessionThreads = ControlSessions.threads(MAX_SESSIONS + ControlSessions.URGENT_ONLY, priority);
        ControlCommands.install(this, group, commands);
        this.acceptor = new Thread(priority.serving(this::acceptLoop), "reuseport-control " + path.getFileName());
        this.acceptor.setDaemon(true);
        this.reaper = new Thread(() -> deadlines.reapUntil(closed::get, "control socket " + this.path),
                "reuseport-control-deadline " + path.getFileName());
        this.reaper.setDaemon(true);
    }

    /** The nice value of a control socket's serving threads unless {@link #servingPriority} sets another. */
    public static final int DEFAULT_SERVING_NICE = -10;

    /**
     * Sets the priority of the threads that serve this socket (its acceptor and session threads, now and as
     * they start; per thread, nothing else in the process changes). By default nice
     * {@value #DEFAULT_SERVING_NICE}, time-sharing: they are idle but for requests, and an emergency
     * {@code fallback} comes when the machine is busiest (a new JVM starting beside load: the request waited
     * milliseconds for each thread to run). A real-time priority (SCHED_RR) puts them ahead of every
     * time-sharing thread while they wait and read; {@code fallback} and {@code health} run at it, every other
     * command (and a hand-off) at time-sharing priority, so a long one cannot hold a CPU ahead of the process.
     * A refused raise (no CAP_SYS_NICE) is logged once and the threads serve as they were; nothing fails.
     *
     * @param nice     -20 (most favoured) to 19
     * @param realtime 0 (time-sharing, the default) or 1..99: SCHED_RR at that priority
     * @return this control socket
     * @throws IllegalArgumentException when {@code nice} is outside -20..19 or {@code realtime} outside 0..99
     */
    public ControlSocket servingPriority(int nice, int realtime) {
        ThreadPriority.check(nice, realtime);
        priority.set(nice, realtime);
        return this;
    }

    /** The serving threads' priority (tests). */
    dev.reuseport.internal.ThreadNice priority() {
        return priority;
    }

    /** Told about workers a command added, so that the application can start serving them. */
    public interface Listener {
        /**
         * Called on the requesting client's session thread after a {@code resize} request added workers,
         * before the reply is sent.
         *
         * @param workers the new workers, none serving yet; empty when the resize removed workers or
         *                changed nothing
         */
        void workersAdded(List<Worker> workers);
    }

    private volatile Listener listener = w -> { };
    /** Whether an application listener hears of added workers (then {@code resize} may grow the group). */
    private volatile boolean workersAddedHeard;

    /** Who hears of workers a {@code resize} added (a no-op until {@link #onWorkersAdded} sets one). */
    Listener addedListener() {
        return listener;
    }

    /** Whether an application listener hears of added workers (then {@code resize} may grow the group). */
    boolean workersAddedHeard() {
        return workersAddedHeard;
    }

    /**
     * Sets who is told about workers added from the control socket, replacing the one set before (by
     * default nobody is told, and added workers accept nothing until the application serves them).
     *
     * @param l the listener
     * @return this control socket
     */
    public ControlSocket onWorkersAdded(Listener l) {
        this.listener = l;
        this.workersAddedHeard = l != null;
        return this;
    }

    /**
     * Adds a command, or replaces a built-in one of the same name ({@code handoff} cannot be replaced).
     *
     * @param name the command name: 1 to 32 characters, a lowercase letter then lowercase letters or
     *             {@code -}
     * @param c    what it does
     * @return this control socket
     * @throws IllegalArgumentException when the name is not of that form
     */
    public ControlSocket command(String name, Command c) {
        if (name == null || !name.matches("[a-z][a-z-]{0,31}")) {
            throw new IllegalArgumentException("command name '" + name + "'; accepted: lowercase letters and '-', "
                    + "1..32 characters");
        }
        commands.put(name, c);
        return this;
    }

    /**
     * Serves {@code group} on a new socket at {@code path}. The directory must exist, belong to this
     * user and not be writable by group or others. An existing socket file at {@code path} with nothing
     * listening is replaced; one with a live server is replaced only when {@code replace} (the new
     * process of a hand-off takes the path over). The socket file gets mode 0600; a daemon thread named
     * {@code reuseport-control <file name>} accepts clients, and each client is served on a daemon thread
     * of its own, four of them started with the socket, all at a raised priority ({@link #servingPriority});
     * reads there wait at most 60 seconds for a request.
     *
     * @param group   the group the commands act on
     * @param path    the socket file; its absolute form at most 107 bytes (the size of
     *                {@code sockaddr_un.sun_path} less its NUL)
     * @param replace whether to take the path over from a live server
     * @return the serving control socket, which the caller closes
     * @throws IllegalArgumentException when the path is null or too long, the directory is missing, not
     *                                  this user's or writable by others, or the path is a file that is
     *                                  not a socket
     * @throws IllegalStateException    when a live server holds the path and {@code replace} is false
     * @throws IOException              when the socket cannot be created, bound or given its mode
     */
    public static ControlSocket serve(ReuseportGroup group, Path path, boolean replace) throws IOException {
        return serve(group, path, replace, ReuseportEvents.HANDOFF);
    }

    /** {@link #serve(ReuseportGroup, Path, boolean)} running hand-offs with {@code handoff}. */
    static ControlSocket serve(ReuseportGroup group, Path path, boolean replace, Handoff handoff) throws IOException {
        if (group == null) {
            throw new IllegalArgumentException("group null; accepted: an open ReuseportGroup");
        }
        Path abs = checkPath(path);
        checkDirectory(abs.getParent());
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            PosixFileAttributes a = Files.readAttributes(abs, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isOther()) {
                throw new IllegalArgumentException("control socket path " + abs + " exists and is not a socket; "
                        + "accepted: a free path or a stale socket");
            }
            if (ControlSessions.isLive(abs) && !replace) {
                throw new IllegalStateException("control socket " + abs + " is served by a running process; "
                        + "accepted: take it over with ReuseportGroup.takeOver, or choose another path");
            }
        }
        // bound under a temporary name, given its mode, then renamed over the path in one step: the path
        // never lacks a server, and never names a socket of another mode
        Path tmp = abs.resolveSibling("." + abs.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        if (tmp.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107) {
            tmp = abs.resolveSibling(".rp" + Long.toHexString(System.nanoTime() & 0xffffff));
        }
        UnixServerSocketChannel server = UnixServerSocketChannel.open();
        ControlSocket cs = null;
        try {
            Files.deleteIfExists(tmp);
            server.socket().bind(new UnixSocketAddress(tmp.toFile()));
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Object[] bound = ControlSessions.fileKey(tmp);
            cs = new ControlSocket(group, abs, server, handoff);
            cs.boundFile = bound;
            cs.acceptor.start();
            cs.reaper.start();
            ControlSessions.rehearse(tmp, cs.sessions, () -> ControlCommands.prepare(group)); // the only client there
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            server.close();
            if (cs != null) {
                cs.close(); // its threads end; the file at the path is not the one it bound, so it stays
            }
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, "control socket " + abs + " serves " + group);
        return cs;
    }

    /** The absolute form of a control socket path, checked for what a Unix socket address can hold. */
    static Path checkPath(Path path) {
        return ControlLines.checkPath(path);
    }

    static void checkDirectory(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("control socket directory " + dir + " does not exist; accepted: an "
                    + "existing directory owned by uid " + Sys.uid() + " and writable by no one else (e.g. 0700)");
        }
        PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        Set<PosixFilePermission> p = a.permissions();
        if (owner != Sys.uid() || p.contains(PosixFilePermission.GROUP_WRITE)
                || p.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IllegalArgumentException("control socket directory " + dir + " is owned by uid " + owner
                    + " with mode " + PosixFilePermissions.toString(p) + "; accepted: owned by uid " + Sys.uid()
                    + " and writable by no one else (e.g. 0700)");
        }
        ControlLines.checkAncestors(dir.toRealPath().getParent());
    }

    /** /proc/sys/kernel/overflowuid, or 65534 when it cannot be read. */
    static int overflowUid() {
        try {
            return Integer.parseInt(Files.readString(Path.of("/proc/sys/kernel/overflowuid")).trim());
        } catch (IOException | RuntimeException e) {
            return 65534;
        }
    }

    /**
     * Where the socket is.
     *
     * @return the socket file's absolute path
     */
    public Path path() {
        return path;
    }

    /**
     * How many peers were refused because their uid (from SO_PEERCRED) was neither this process's nor
     * root's; each refusal is also in the audit trail.
     *
     * @return the count since {@link #serve}
     */
    public long refusedPeers() {
        return refusedPeers.get();
    }

    /**
     * Waits until the group has been handed off to a new process through this socket. After a hand-off
     * the new process owns the listeners too; this process should stop accepting and close its group.
     *
     * @param timeout how long to wait at most (millisecond resolution)
     * @return true when the hand-off completed, false when the time ran out first
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public boolean awaitHandOff(Duration timeout) throws InterruptedException {
        return handedOff.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Whether the group was handed off to a new process through this socket.
     *
     * @return true once a {@code handoff} request completed
     */
    public boolean handedOff() {
        return handedOff.getCount() == 0;
    }

    /**
     * Accepts clients until the socket closes. Nothing else ends it: any other failure (an accept error,
     * a thread that cannot be created, an Error) ends that one iteration, is logged, and the client, if
     * any, is closed.
     */
    private void acceptLoop() {
        while (!closed.get()) {
            UnixSocketChannel c = null;
            try {
                c = server.accept();
                long acceptedAt = System.nanoTime();
                if (c == null) {
                    continue;
                }
                boolean full = sessions.incrementAndGet() > MAX_SESSIONS;
                if (full) { // an operator's fallback must not find the socket full of idle or hostile clients
                    sessions.decrementAndGet();
                    if (urgentOnly.incrementAndGet() > ControlSessions.URGENT_ONLY) {
                        urgentOnly.decrementAndGet();
                        refuseBusy(c);
                        continue;
                    }
                }
                java.util.concurrent.atomic.AtomicInteger held = full ? urgentOnly : sessions;
                UnixSocketChannel client = c;
                try {
                    sessionThreads.execute(() -> {
                        try {
                            session(client, acceptedAt, full);
                        } finally {
                            held.decrementAndGet();
                        }
                    });
                } catch (Throwable e) {
                    held.decrementAndGet();
                    throw e;
                }
            } catch (ClosedChannelException e) {
                if (closed.get()) {
                    return;
                }
                LOG.log(System.Logger.Level.WARNING, "control socket " + path + ": " + e);
            } catch (Throwable e) {
                if (closed.get()) {
                    return;
                }
                LOG.log(System.Logger.Level.WARNING, "control socket " + path + ": accept iteration failed, "
                        + "still serving: " + e);
                if (c != null) {
                    refuseBusy(c);
                }
            }
        }
    }

    /** Tells a client the socket is busy and closes it (never blocks: the reply fits a fresh socket's buffer). */
    private void refuseBusy(UnixSocketChannel c) {
        busy.incrementAndGet();
        try (c) {
            new ControlLines(c.getFD()).writeLine(ControlSessions.busy(MAX_SESSIONS));
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.DEBUG, "control socket " + path + ": refusing a busy client: " + e);
        }
    }

    /**
     * Sessions turned away with {@code ERR busy} ({@link #MAX_SESSIONS}), and sessions ended because a
     * request was not complete within {@link #REQUEST_DEADLINE}.
     *
     * @return {@code [busy, timed out]} since {@link #serve}
     */
    public long[] refusedSessions() {
        return new long[] {busy.get(), deadlines.timedOut()};
    }

    /** Serves one client; {@code full}: admitted past the cap, for one urgent request only. */
    private void session(UnixSocketChannel c, long acceptedAt, boolean full) {
        ControlSessions.began(acceptedAt);
        ControlLines lines = null;
        try (c) {
            lines = new ControlLines(c.getFD());
            int[] cred = Sys.peerCredentials(lines.fd());
            if (!ControlSessions.peerAllowed(cred[1], uid, overflowUid)) {
                refusedPeers.incrementAndGet();
                group.audit().record("peer-refused", "socket", path.toString(), "pid", cred[0], "uid", cred[1],
                        "allowed", "uid " + uid + " or root");
                LOG.log(System.Logger.Level.WARNING, "control socket " + path + ": refused peer pid " + cred[0]
                        + " uid " + cred[1] + " (serving uid " + uid + " and root only)");
                lines.writeLine("ERR " + ControlSessions.refusal(cred[1], uid, overflowUid));
                lines.lingerForRequest(500); // closing now fails the peer's request write: EPIPE, not this ERR
                return;
            }
            Sys.setTimeouts(lines.fd(), 60_000);
            for (;;) {
                String line;
                deadlines.waiting(lines, System.nanoTime() + (full ? ControlSessions.URGENT_ONLY_DEADLINE_NANOS
                        : requestDeadlineNanos));
                try {
                    line = lines.readLine();
                    ControlSessions.mark(ControlSessions.READ);
                } catch (ControlLines.LineTooLongException e) {
                    lines.writeLine("ERR " + e.getMessage());
                    if (full) {
                        return; // one request past the cap, whatever it was
                    }
                    continue;
                } finally {
                    deadlines.done(lines);
                }
                if (line == null || closed.get()) {
                    return;
                }
                line = WHITESPACE_EDGES.matcher(line).replaceAll("");
                if (full && !ControlSessions.URGENT.contains(WHITESPACE.split(line, 2)[0])) {
                    busy.incrementAndGet();
                    lines.writeLine(ControlSessions.busy(MAX_SESSIONS));
                    return;
                }
                if (handle(lines, line) || full) {
                    return;
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "control session ended: " + e.getMessage());
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.WARNING, "control session ended by " + e);
        } finally {
            if (lines != null) {
                deadlines.done(lines);
            }
        }
    }

    /** Handles one request; true when the session ends (a completed hand-off). */
    private boolean handle(ControlLines lines, String line) throws IOException {
        if (line.isEmpty()) {
            lines.writeLine("ERR empty request; accepted: " + String.join(", ", commandNames()));
            return false;
        }
        List<String> words = new ArrayList<>(List.of(WHITESPACE.split(line)));
        String name = words.remove(0);
        if (name.equals("handoff")) {
            if (words.size() != 1) {
                lines.writeLine("ERR handoff takes the protocol version; accepted: handoff " + Handoff.VERSION);
                return false;
            }
            try {
                boolean done = priority.timeSharing(() -> handoff.send(group::handOff, lines, words.get(0)));
                if (done) {
                    handedOff.countDown();
                    closeServer();
                }
                return done;
            } catch (GroupClosedException e) {
                lines.writeLine("ERR " + e.getMessage());
                return false;
            }
        }
        Command c = commands.get(name);
        if (c == null) {
            String shown = name.length() > 40 ? name.substring(0, 40) + "..." : name;
            lines.writeLine("ERR unknown command '" + Shown.printable(shown) + "'; accepted: " + String.join(", ", commandNames()));
            return false;
        }
        List<String> body = new ArrayList<>();
        String result;
        try {
            // only the emergency lever and the health check keep a real-time priority (servingPriority)
            result = ControlSessions.URGENT.contains(name) ? c.run(words, body)
                    : priority.timeSharing(() -> c.run(words, body));
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            lines.writeLine("ERR " + Shown.printable(e.getMessage()));
            return false;
        } catch (IOException e) {
            lines.writeLine("ERR " + name + " failed: " + Shown.printable(e.getMessage()));
            return false;
        } catch (RuntimeException e) {
            // any other failure of a command answers too, with its type; the session goes on
            LOG.log(System.Logger.Level.WARNING, "control command " + name + " failed: " + e);
            lines.writeLine("ERR " + e.getClass().getSimpleName() + ": " + Shown.printable(String.valueOf(e.getMessage())));
            return false;
        }
        ControlSessions.mark(ControlSessions.RAN);
        for (String b : body) {
            lines.writeLine(b.startsWith("OK") || b.startsWith("ERR") ? " " + b : b);
        }
        lines.writeLine(result == null || result.isEmpty() ? "OK" : "OK " + result);
        ControlSessions.mark(ControlSessions.WRITTEN);
        return false;
    }

    private List<String> commandNames() {
        List<String> names = new ArrayList<>(commands.keySet());
        names.add("handoff");
        return names;
    }

    private void closeServer() {
        if (closed.compareAndSet(false, true)) {
            sessionThreads.shutdown(); // idle session threads end; sessions in progress finish
            try {
                server.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "closing control socket: " + e.getMessage());
            }
        }
    }

    /**
     * Stops serving and removes the socket file, but only while it is still the one this socket bound
     * (same device and inode): a file another server has put there since (a hand-off's new process, or any
     * later server) is left alone.
     */
    @Override
    public void close() {
        boolean wasOpen = !closed.get();
        closeServer();
        reaper.interrupt();
        if (wasOpen && !handedOff()) {
            try {
                if (java.util.Arrays.equals(ControlSessions.fileKey(path), boundFile)) {
                    Files.delete(path);
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "control socket " + path + " is another server's now; left");
                }
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "removing " + path + ": " + e.getMessage());
            }
        }
    }
}
