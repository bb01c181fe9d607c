package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.wire.Shown;
import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A group under systemd: socket activation, the notify protocol and the file-descriptor store.
 *
 * <ul>
 *   <li><b>Socket activation.</b> {@link #open(ReuseportGroup.Builder)} adopts the listening sockets
 *       systemd passed ({@code LISTEN_PID}, {@code LISTEN_FDS}, {@code LISTEN_FDNAMES}, descriptors from
 *       3 on): from a {@code .socket} unit with {@code ReusePort=yes} (one {@code ListenStream=} or
 *       {@code ListenDatagram=} line per worker), or from the service's file-descriptor store after a
 *       restart. Every descriptor is checked (a socket of the builder's family and type, bound to its
 *       address and port, with SO_REUSEPORT, listening for TCP); the variables are removed from the C
 *       library's environment and each descriptor is made close-on-exec. Without passed descriptors it
 *       opens the group as {@link ReuseportGroup.Builder#open()} does.</li>
 *   <li><b>Notify.</b> {@link #notify(String)} sends a state ({@code READY=1}, {@code STOPPING=1},
 *       {@code STATUS=...}, {@code MAINPID=...}, {@code WATCHDOG=1}) to {@code $NOTIFY_SOCKET} (a path,
 *       or an abstract name starting with {@code @}) as one datagram, through the library's native
 *       layer; {@link #keepWatchdog()} pings at half of {@code WATCHDOG_USEC}.</li>
 *   <li><b>File-descriptor store.</b> {@link #store(ReuseportGroup)} hands the group's sockets
 *       ({@code FDNAME=reuseport-slot-<slot>}) and its steering program and maps to systemd
 *       ({@code FDSTORE=1} with SCM_RIGHTS; the unit needs {@code FileDescriptorStoreMax=}). systemd keeps
 *       them open while the process restarts or is killed: connections wait in the kernel's accept queue,
 *       and the next process takes them back with {@link #open(ReuseportGroup.Builder)} (the same slots,
 *       policy, table version and maps, as after a hand-off).</li>
 * </ul>
 * The environment is read once per process: a second {@link #passed()} returns what the first took.
 */
public final class Systemd {
    /** The FDNAME of a stored worker socket: this prefix and the slot number. */
    public static final String SLOT_PREFIX = "reuseport-slot-";
    /** The FDNAME of the stored steering program: this prefix, then {@code /name/tableVersion/policy}. */
    public static final String PROGRAM_PREFIX = "reuseport-steer-program";
    /** The FDNAME of a stored steering map: this prefix and the map's name. */
    public static final String MAP_PREFIX = "reuseport-steer-map-";
    /** The first passed descriptor (SD_LISTEN_FDS_START). */
    static final int FIRST_FD = 3;
    /** The most descriptors accepted in LISTEN_FDS. */
    static final int MAX_FDS = 4096;
    private static final System.Logger LOG = System.getLogger("dev.reuseport");
    private static final AtomicReference<Taken> TAKEN = new AtomicReference<>();

    private Systemd() {
    }

    /**
     * A descriptor systemd passed.
     *
     * @param name its name from {@code LISTEN_FDNAMES} ({@code unknown} when systemd gave none)
     * @param fd   the descriptor number (close-on-exec once taken)
     */
    public record Passed(String name, int fd) {
    }

    private record Taken(List<Passed> passed, SystemdException error) {
    }

    /**
     * The descriptors systemd passed to this process, taken once: the checks of {@code LISTEN_PID} and
     * {@code LISTEN_FDS}, the variables removed from the C library's environment (children started
     * without an explicit environment do not see them; {@code System.getenv()} keeps its copy), every
     * descriptor made close-on-exec.
     *
     * @return the passed descriptors in order, empty when {@code LISTEN_FDS} is not set
     * @throws SystemdException {@code LISTEN_PID} or {@code LISTEN_FDS} malformed, {@code LISTEN_PID}
     *                          naming another process, {@code LISTEN_FDNAMES} of another count, or a passed
     *                          descriptor that is not open (then every passed descriptor is closed)
     */
    public static List<Passed> passed() throws SystemdException {
        synchronized (TAKEN) {
            Taken t = TAKEN.get();
            if (t == null) {
                t = take(System.getenv(), ProcessHandle.current().pid());
                TAKEN.set(t);
            }
            if (t.error() != null) {
                throw new SystemdException(t.error().getMessage(), t.error());
            }
            return t.passed();
        }
    }

    private static Taken take(Map<String, String> env, long pid) {
        List<String> names;
        try {
            names = parse(env.get("LISTEN_PID"), env.get("LISTEN_FDS"), env.get("LISTEN_FDNAMES"), pid);
        } catch (SystemdException e) {
            unsetListenVariables();
            return new Taken(List.of(), e);
        }
        unsetListenVariables();
        List<Passed> passed = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            passed.add(new Passed(names.get(i), FIRST_FD + i));
        }
        for (Passed p : passed) {
            try {
                Sys.setCloexec(p.fd());
            } catch (NativeException e) {
                SystemdException x = new SystemdException("passed descriptor " + p.fd() + " (" + Shown.quote(p.name())
                        + ") of LISTEN_FDS=" + names.size() + " is not open here (" + e.getMessage()
                        + "); accepted: descriptors 3.." + (FIRST_FD + names.size() - 1) + " all open", e);
                closeAll(passed, x);
                return new Taken(List.of(), x);
            }
        }
        return new Taken(List.copyOf(passed), null);
    }

    private static void unsetListenVariables() {
        for (String v : List.of("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")) {
            try {
                Sys.unsetenv(v);
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot remove " + v + " from the environment: " + e.getMessage());
            }
        }
    }

    /**
     * The names of the descriptors passed to process {@code pid}; no system call.
     *
     * @return one name per passed descriptor (none when neither LISTEN_PID nor LISTEN_FDS is set)
     */
    static List<String> parse(String listenPid, String listenFds, String listenFdNames, long pid)
            throws SystemdException {
        if (listenPid == null && listenFds == null) {
            return List.of();
        }
        if (listenPid == null || listenFds == null) {
            throw new SystemdException((listenPid == null ? "LISTEN_FDS=" + Shown.quote(listenFds) + " without LISTEN_PID"
                    : "LISTEN_PID=" + Shown.quote(listenPid) + " without LISTEN_FDS") + "; accepted: both set (by systemd), "
                    + "or neither", null);
        }
        long owner = number("LISTEN_PID", listenPid, Integer.MAX_VALUE, "a process id");
        if (owner != pid) {
            throw new SystemdException("LISTEN_PID=" + listenPid + " names another process (this one is " + pid
                    + "): the descriptors were passed to that one; accepted: LISTEN_PID=" + pid, null);
        }
        int n = (int) number("LISTEN_FDS", listenFds, MAX_FDS, "a count of descriptors");
        List<String> names = new ArrayList<>();
        if (listenFdNames == null || listenFdNames.isEmpty()) {
            for (int i = 0; i < n; i++) {
                names.add("unknown");
            }
        } else {
            names.addAll(List.of(listenFdNames.split(":", -1)));
            if (names.size() != n) {
                throw new SystemdException("LISTEN_FDNAMES=" + Shown.quote(listenFdNames) + " names " + names.size()
                        + " descriptors but LISTEN_FDS=" + n + "; accepted: " + n + " names separated by ':'", null);
            }
        }
        return names;
    }

    private static long number(String variable, String value, long max, String what) throws SystemdException {
        long v = -1;
        if (value.matches("[0-9]{1,10}")) {
            v = Long.parseLong(value);
        }
        if (v < 1 || v > max) {
            throw new SystemdException(variable + "=" + Shown.quote(value) + " is not " + what + "; accepted: 1.." + max,
                    null);
        }
        return v;
    }

    /**
     * A group on the sockets systemd passed, or a new one when none were passed. The passed sockets must
     * match {@code b}: as many as its workers, each of the builder's family and protocol, bound to its
     * address and port (any port when the builder's is 0, the same for all), with SO_REUSEPORT, and
     * listening for TCP. Sockets named {@code reuseport-slot-<n>} (as {@link #store} names them) keep their
     * slots; when the steering program and every map came back too, the group adopts them with the policy
     * and table version stored with the program, as after a hand-off.
     *
     * @param b the group's parameters (its workers, backlog, receive buffer and policy apply)
     * @return the open group, which the caller closes
     * @throws SystemdException   what was passed is refused (see {@link #passed()}; fewer or more sockets
     *                            than workers; a descriptor that is not a socket, or of another family,
     *                            type, address or port, or without SO_REUSEPORT); every passed descriptor
     *                            has then been closed
     * @throws ReuseportException the group cannot be set up on them, or opened anew
     */
    public static ReuseportGroup open(ReuseportGroup.Builder b) throws ReuseportException {
        if (b == null) {
            throw new IllegalArgumentException("builder is null; accepted: ReuseportGroup.tcp() or udp()");
        }
        List<Passed> all = passed();
        return all.isEmpty() ? b.open() : adopt(all, b);
    }

    /** {@link #open} on the descriptors {@code all} (not empty), which it owns from here on. */
    static ReuseportGroup adopt(List<Passed> all, ReuseportGroup.Builder b) throws ReuseportException {
        List<Passed> sockets = new ArrayList<>();
        List<Passed> duplicates = new ArrayList<>();
        List<Passed> owned = new ArrayList<>(all); // what a failure must close
        Map<String, Integer> steer = new HashMap<>();
        String program = null;
        try {
            Map<Long, Passed> byCookie = new HashMap<>();
            for (Passed p : all) {
                if (p.name().startsWith(PROGRAM_PREFIX) || p.name().startsWith(MAP_PREFIX)) {
                    continue;
                }
                long cookie = cookie(p.fd());
                Passed first = cookie == 0 ? null : byCookie.putIfAbsent(cookie, p);
                if (first != null) { // the same socket twice: from a .socket unit and from the fd store
                    Passed keep = p.name().startsWith(SLOT_PREFIX) ? p : first;
                    byCookie.put(cookie, keep);
                    duplicates.add(keep == p ? first : p);
                }
            }
            for (Passed p : all) {
                if (duplicates.contains(p)) {
                    continue;
                }
                if (p.name().startsWith(PROGRAM_PREFIX) || p.name().startsWith(MAP_PREFIX)) {
                    steer.put(p.name().startsWith(PROGRAM_PREFIX) ? PROGRAM_PREFIX : p.name(), p.fd());
                    program = p.name().startsWith(PROGRAM_PREFIX) ? p.name() : program;
                } else {
                    sockets.add(p);
                }
            }
            if (sockets.size() != b.workers) {
                throw new SystemdException((sockets.size() < b.workers ? "fewer" : "more") + " sockets passed ("
                        + sockets.size() + ": " + names(sockets) + ") than the group's " + b.workers + " workers; "
                        + "accepted: one socket per worker (a Listen line each in the .socket unit), or workers("
                        + sockets.size() + ")", null);
            }
            int port = b.port;
            int[] slots = new int[sockets.size()];
            Set<Integer> seen = new LinkedHashSet<>();
            for (int i = 0; i < sockets.size(); i++) {
                port = check(b, sockets.get(i), port);
                slots[i] = slot(sockets.get(i).name(), i);
                if (!seen.add(slots[i])) {
                    throw new SystemdException("two passed sockets for slot " + slots[i] + " (" + names(sockets)
                            + "); accepted: one socket per slot", null);
                }
            }
            closeAll(duplicates, null);
            owned.removeAll(duplicates);
            int[] fds = sockets.stream().mapToInt(Passed::fd).toArray();
            for (int fd : fds) {
                Sys.setNonBlocking(fd); // as the library's own members: systemd passes blocking sockets
            }
            ReuseportGroup.Builder at = b.port == port ? b : copyAt(b, port);
            int[] steerFds = steering(steer, program);
            ReuseportGroup g;
            if (steerFds != null) {
                String[] parts = program.split("/", -1);
                int[] layoutFds = new int[fds.length + steerFds.length];
                System.arraycopy(fds, 0, layoutFds, 0, fds.length);
                System.arraycopy(steerFds, 0, layoutFds, fds.length, steerFds.length);
                try {
                    g = GroupOpening.adopt(new Handoff.Layout(b.protocol.name(), b.address.getHostAddress(), port,
                            b.backlog, b.receiveBuffer, parts[3].replace('=', ':'), Integer.parseInt(parts[2]), slots,
                            parts[1], layoutFds), GroupOpening::committedTags);
                } catch (IOException | RuntimeException e) {
                    closeAll(owned, e); // nothing adopted half-way: the adoption owns none of them yet
                    throw new ReuseportException("cannot adopt the group systemd kept (" + names(all) + "): "
                            + e.getMessage(), e);
                }
                g.audit().record("systemd-adopt", "sockets", fds.length, "steering", "adopted", "policy",
                        g.policy().spec());
            } else {
                closeAll(List.copyOf(steerOnly(all)), null);
                boolean renumbered = slots.length > 0 && !java.util.Arrays.equals(slots,
                        java.util.stream.IntStream.range(0, slots.length).toArray());
                g = GroupOpening.open(at, fds);
                g.audit().record("systemd-adopt", "sockets", fds.length, "steering", steer.isEmpty() ? "none passed"
                        : "incomplete, opened anew", "slots_renumbered", renumbered);
            }
            return g;
        } catch (SystemdException e) {
            closeAll(owned, e);
            throw e;
        } catch (NativeException e) {
            SystemdException x = new SystemdException("cannot check the passed descriptors " + names(all) + ": "
                    + e.getMessage(), e);
            closeAll(owned, x);
            throw x;
        } catch (IOException e) {
            // closed already: GroupOpening.open closes the members it was given when it fails, the
            // steering descriptors were closed before it, and a failed adoption closed them all
            throw e instanceof ReuseportException r ? r : new ReuseportException("cannot set up the group on the "
                    + "passed descriptors " + names(all) + ": " + e.getMessage(), e);
        }
    }

    private static List<Passed> steerOnly(List<Passed> all) {
        return all.stream().filter(p -> p.name().startsWith(PROGRAM_PREFIX) || p.name().startsWith(MAP_PREFIX)).toList();
    }

    /** The program and maps in the order a hand-off layout has them, or null when any is missing. */
    private static int[] steering(Map<String, Integer> steer, String program) {
        if (program == null || program.split("/", -1).length != 4 || !program.split("/", -1)[2].matches("[0-9]{1,9}")) {
            return null;
        }
        int[] fds = new int[SteerProgram.MAPS.size() + 1];
        fds[0] = steer.get(PROGRAM_PREFIX);
        for (int i = 0; i < SteerProgram.MAPS.size(); i++) {
            Integer fd = steer.get(MAP_PREFIX + SteerProgram.MAPS.get(i));
            if (fd == null) {
                return null;
            }
            fds[i + 1] = fd;
        }
        return fds;
    }

    private static ReuseportGroup.Builder copyAt(ReuseportGroup.Builder b, int port) {
        ReuseportGroup.Builder c = (b.protocol == Protocol.TCP ? ReuseportGroup.tcp() : ReuseportGroup.udp())
                .address(b.address).port(port).workers(b.workers).backlog(b.backlog).receiveBuffer(b.receiveBuffer)
                .policy(b.policy).migration(b.migration).ingest(b.ingest);
        return c;
    }

    /** Checks one passed socket against the builder; returns the group's port (the first socket's when 0). */
    private static int check(ReuseportGroup.Builder b, Passed p, int port) throws SystemdException, NativeException {
        String what = "passed descriptor " + p.fd() + " (" + Shown.quote(p.name()) + ")";
        int type;
        try {
            type = Sys.getInt(p.fd(), Sys.SOL_SOCKET, Sys.SO_TYPE);
        } catch (NativeException e) {
            if (e.is(Errno.ENOTSOCK)) {
                throw new SystemdException(what + " is not a socket (" + e.getMessage() + "); accepted: "
                        + b.protocol + " sockets, and the steering program and maps that store() names", e);
            }
            throw e;
        }
        int wantType = b.protocol == Protocol.TCP ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM;
        if (type != wantType) {
            throw new SystemdException(what + " is a " + (type == Sys.SOCK_STREAM ? "stream" : type == Sys.SOCK_DGRAM
                    ? "datagram" : "type " + type) + " socket; accepted: " + (wantType == Sys.SOCK_STREAM
                    ? "a stream (TCP, ListenStream=)" : "a datagram (UDP, ListenDatagram=)") + " socket for this "
                    + b.protocol + " group", null);
        }
        int family = Sys.getInt(p.fd(), Sys.SOL_SOCKET, Sys.SO_DOMAIN);
        int wantFamily = dev.reuseport.sys.internal.SockAddr.family(b.address);
        if (family != wantFamily) {
            throw new SystemdException(what + " is of address family " + family + "; accepted: family " + wantFamily
                    + " (" + (b.address instanceof java.net.Inet6Address ? "IPv6" : "IPv4") + ", as address "
                    + b.address.getHostAddress() + ")", null);
        }
        if (b.protocol == Protocol.TCP && Sys.getInt(p.fd(), Sys.SOL_SOCKET, Sys.SO_ACCEPTCONN) != 1) {
            throw new SystemdException(what + " is a TCP socket that is not listening; accepted: listening "
                    + "sockets (ListenStream=, Accept=no)", null);
        }
        InetSocketAddress at = Sys.localAddress(p.fd());
        if (port != 0 && at.getPort() != port) {
            throw new SystemdException(what + " is bound to port " + at.getPort() + "; accepted: port " + port
                    + (b.port == 0 ? " (the first passed socket's)" : " (the builder's)"), null);
        }
        if (!at.getAddress().equals(b.address)) {
            throw new SystemdException(what + " is bound to " + GroupOpening.format(at) + "; accepted: address "
                    + b.address.getHostAddress() + " (the builder's)", null);
        }
        if (Sys.getInt(p.fd(), Sys.SOL_SOCKET, Sys.SO_REUSEPORT) != 1) {
            throw new SystemdException(what + " on " + GroupOpening.format(at) + " has no SO_REUSEPORT; accepted: "
                    + "sockets with SO_REUSEPORT (ReusePort=yes in the .socket unit)", null);
        }
        return at.getPort();
    }

    /** SO_COOKIE, or 0 for a descriptor that is not a socket (check() then names it). */
    private static long cookie(int fd) {
        try {
            return Sys.getLong(fd, Sys.SOL_SOCKET, Sys.SO_COOKIE);
        } catch (NativeException e) {
            return 0;
        }
    }

    private static int slot(String name, int index) {
        if (name.startsWith(SLOT_PREFIX) && name.substring(SLOT_PREFIX.length()).matches("[0-9]{1,4}")) {
            return Integer.parseInt(name.substring(SLOT_PREFIX.length()));
        }
        return index;
    }

    private static String names(List<Passed> ps) {
        StringBuilder s = new StringBuilder("[");
        for (Passed p : ps) {
            s.append(s.length() > 1 ? ", " : "").append(p.fd()).append('=').append(p.name());
        }
        return s.append(']').toString();
    }

    private static void closeAll(List<Passed> ps, Throwable failure) {
        for (Passed p : ps) {
            try {
                Sys.close(p.fd());
            } catch (NativeException e) {
                if (failure != null && !e.is(Errno.EBADF)) {
                    failure.addSuppressed(e);
                }
            }
        }
    }

    // ---- notify ---------------------------------------------------------------------------------

    /**
     * Whether {@code $NOTIFY_SOCKET} is set (the service runs under systemd with {@code Type=notify} or
     * {@code NotifyAccess=}).
     *
     * @return true when notifications have somewhere to go
     */
    public static boolean notifyAvailable() {
        String s = System.getenv("NOTIFY_SOCKET");
        return s != null && !s.isEmpty();
    }

    /**
     * Sends {@code state} to {@code $NOTIFY_SOCKET} as one datagram: one or more {@code KEY=value} lines
     * ({@code READY=1}, {@code STOPPING=1}, {@code RELOADING=1}, {@code STATUS=...}, {@code MAINPID=...},
     * {@code WATCHDOG=1}, {@code EXTEND_TIMEOUT_USEC=...}).
     *
     * @param state the lines, separated by newlines
     * @return false when {@code $NOTIFY_SOCKET} is not set (nothing sent), true when sent
     * @throws SystemdException {@code $NOTIFY_SOCKET} is not a path or abstract name of at most 107 bytes,
     *                          or the send failed (the call and errno named)
     */
    public static boolean notify(String state) throws SystemdException {
        return SystemdNotify.send(state, new int[0]);
    }

    /**
     * {@code READY=1} with a status line.
     *
     * @param status what the service is doing, shown by {@code systemctl status}
     * @return false when there is no notify socket
     * @throws SystemdException as {@link #notify}
     */
    public static boolean ready(String status) throws SystemdException {
        return notify("READY=1\nSTATUS=" + oneLine(status) + "\nMAINPID=" + ProcessHandle.current().pid());
    }

    /**
     * {@code STOPPING=1} with a status line.
     *
     * @param status why the service stops
     * @return false when there is no notify socket
     * @throws SystemdException as {@link #notify}
     */
    public static boolean stopping(String status) throws SystemdException {
        return notify("STOPPING=1\nSTATUS=" + oneLine(status));
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ');
    }

    /**
     * The watchdog interval systemd expects pings within ({@code WATCHDOG_USEC}), when it is meant for
     * this process ({@code WATCHDOG_PID} unset or this process).
     *
     * @return the interval, or empty when no watchdog is asked for
     * @throws SystemdException {@code WATCHDOG_USEC} or {@code WATCHDOG_PID} is not a positive number
     */
    public static Optional<Duration> watchdogInterval() throws SystemdException {
        String usec = System.getenv("WATCHDOG_USEC");
        if (usec == null || usec.isEmpty()) {
            return Optional.empty();
        }
        String wpid = System.getenv("WATCHDOG_PID");
        if (wpid != null && !wpid.isEmpty() && number("WATCHDOG_PID", wpid, Integer.MAX_VALUE, "a process id")
                != ProcessHandle.current().pid()) {
            return Optional.empty();
        }
        if (!usec.matches("[0-9]{1,15}") || Long.parseLong(usec) == 0) {
            throw new SystemdException("WATCHDOG_USEC=" + Shown.quote(usec) + " is not a number of microseconds; "
                    + "accepted: a positive integer", null);
        }
        return Optional.of(Duration.ofNanos(Long.parseLong(usec) * 1000));
    }

    /**
     * Pings the watchdog ({@code WATCHDOG=1}) at half of {@link #watchdogInterval()} from a daemon thread
     * until closed; does nothing when no watchdog is asked for. A process that stops serving should close
     * it, so that systemd notices.
     *
     * @return what stops the pings
     * @throws SystemdException as {@link #watchdogInterval()}
     */
    public static AutoCloseable keepWatchdog() throws SystemdException {
        Optional<Duration> every = watchdogInterval();
        if (every.isEmpty() || !notifyAvailable()) {
            return () -> { };
        }
        return SystemdNotify.pingWatchdog(Math.max(1, every.get().toMillis() / 2));
    }

    /**
     * Hands the group's sockets, and its steering program and maps when it has them, to systemd's
     * file-descriptor store ({@code FDSTORE=1}, one message per descriptor, {@code FDNAME=} as described in
     * the class comment; the unit needs {@code FileDescriptorStoreMax=} of at least workers + 13). Entries
     * that this process took back but that no longer belong to the group (a removed slot, a replaced
     * program) are removed first ({@code FDSTOREREMOVE=1}). systemd ignores a descriptor it already holds.
     *
     * @param group the group to keep across restarts
     * @return how many descriptors were sent; 0 when there is no notify socket
     * @throws SystemdException a send failed (the call and errno named)
     */
    public static int store(ReuseportGroup group) throws SystemdException {
        if (!notifyAvailable()) {
            return 0;
        }
        Map<String, Integer> named = new java.util.LinkedHashMap<>();
        for (Worker w : group.workers()) {
            named.put(SLOT_PREFIX + w.slot(), w.socket().number());
        }
        SteerProgram program = group.storedSteering();
        if (program != null) {
            int[] d = program.descriptors();
            named.put(PROGRAM_PREFIX + "/" + program.program().name() + "/" + group.tableVersion() + "/"
                    + group.policy().spec().replace(':', '='), d[0]);
            for (int i = 0; i < SteerProgram.MAPS.size(); i++) {
                named.put(MAP_PREFIX + SteerProgram.MAPS.get(i), d[i + 1]);
            }
        }
        Taken t = TAKEN.get();
        if (t != null) {
            for (Passed p : t.passed()) {
                if (!named.containsKey(p.name())) {
                    SystemdNotify.send("FDSTOREREMOVE=1\nFDNAME=" + p.name(), new int[0]);
                }
            }
        }
        for (Map.Entry<String, Integer> e : named.entrySet()) {
            SystemdNotify.send("FDSTORE=1\nFDNAME=" + e.getKey(), new int[] {e.getValue()});
        }
        return named.size();
    }
}
