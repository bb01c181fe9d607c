package dev.reuseport.handoff;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.NativeException;
import dev.reuseport.internal.wire.ControlLines;
import dev.reuseport.internal.wire.Shown;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * The cross-process hand-off (a binary upgrade without losing a connection), as Envoy's hot restart
 * and HAProxy's {@code expose-fd listeners} do it. On the old process's control socket:
 * <pre>
 *   new → old   handoff 2
 *   old → new   OK handoff 2 fds N batches B        (or ERR ..., e.g. a version mismatch)
 *   old → new   B messages of 16 bytes "FDS nnnnnnnnn\n", each carrying up to 200 descriptors by SCM_RIGHTS
 *   old → new   LAYOUT key=value ...                 (what each descriptor is, slots, policy, table version)
 *   new → old   ready cookies=c1,c2,...              (SO_COOKIE of every socket received, in slot order: the proof)
 *   old → new   OK go                                 (or ERR handoff proof ...: the old side keeps everything)
 *   new → old   serving                               (the new process has made its group of the sockets)
 *   old → new   OK bye                                (the old one has let go of its descriptors)
 * </pre>
 * A UDP group whose dissector keeps state is served on the new process's own sockets, a new socket
 * generation: it confirms with {@code serving generation=N}, and the old side, once the program names N
 * LIVE and working, keeps its sockets and drains, answering {@code OK bye} (else {@code ERR handoff generation
 * N refused ...}, serving on).
 * The sockets are the same kernel objects in both processes, so their queues carry over untouched. The
 * old side keeps its sockets and program until the peer says {@code serving}: a confirmation without the
 * cookies of the group's sockets (a peer that read the reply with a plain {@code recv}, which discards the
 * descriptors, and typed {@code ready}) is refused with {@code ERR handoff proof ...}; a peer that dies, goes
 * silent or says {@code abort} before {@code serving} leaves the old one serving. If the old one dies after
 * the descriptors arrived, the new one keeps them. The new side checks every descriptor it receives before
 * it answers (domain, type, protocol, listening, bound address and port, SO_REUSEPORT, O_NONBLOCK, distinct
 * sockets, distinct slots in range, at least one socket). The whole exchange has one deadline on each side
 * ({@link #DEADLINE_MILLIS} unless given): when it passes, the control connection is shut down, so a peer
 * trickling a byte at a time cannot extend it. No group lock is held while waiting for the peer.
 *
 * <p>Knows the wire and the layout, not the group: the old side runs over a {@link Source}, the new side
 * hands what arrived to an {@link Adopter}. Failures are {@link HandoffFailure}s.
 */
public final class Handoff {
    /** The protocol version this build speaks (2: the confirmation carries the sockets' cookies). */
    public static final int VERSION = 2;
    /** Descriptors per SCM_RIGHTS message (the kernel's limit is 253). */
    static final int BATCH = 200;
    static final int FRAME = 16;
    /** The default deadline of a whole exchange, on either side. */
    public static final int DEADLINE_MILLIS = 10_000;
    /** The most descriptors a layout can name: 256 sockets, a program and its maps. */
    static final int MAX_FDS = 256 + 1 + SteerProgram.MAPS.size();

    /** A hand-off that reports no step. */
    public static final Handoff PLAIN = new Handoff(s -> { });

    /**
     * Called at each step of the exchange with its name ({@code old:header}, {@code old:fds},
     * {@code old:layout}, {@code old:proven}, {@code old:confirmed}, {@code new:header}, {@code new:fds},
     * {@code new:layout}, {@code new:ready}, {@code new:serving}); a test passes one that kills the process at
     * a chosen step.
     */
    private final java.util.function.Consumer<String> step;
    private final long deadlineMillis;

    /**
     * A hand-off that reports each step, with the default deadline.
     *
     * @param step called with each step's name
     */
    public Handoff(java.util.function.Consumer<String> step) {
        this(step, java.time.Duration.ofMillis(DEADLINE_MILLIS));
    }

    /**
     * A hand-off that reports each step and gives each whole exchange {@code deadline}.
     *
     * @param step     called with each step's name
     * @param deadline how long one exchange may take in all, on either side
     */
    public Handoff(java.util.function.Consumer<String> step, java.time.Duration deadline) {
        this.step = step;
        this.deadlineMillis = Math.max(1, deadline.toMillis());
    }

    /** The old side's group: opens a hand-off session (see {@link #send}). */
    public interface Source {
        /**
         * Takes a snapshot of the group for one exchange, under the group's lock but without keeping it.
         *
         * @return the session
         * @throws IOException when the group is closed or already being handed off
         */
        Session handOff() throws IOException;
    }

    /**
     * One exchange on the old side. No lock is held between its calls; {@link #prove} and {@link #letGo}
     * take the group's lock briefly.
     */
    public interface Session extends AutoCloseable {
        /**
         * What to send.
         *
         * @return the layout; its descriptors are duplicates this session owns
         */
        Layout layout();

        /**
         * Compares the peer's cookies with those of the group's sockets now, in slot order; when they match,
         * holds membership still (changes fail fast) until {@link #letGo} or {@link #aborted}.
         *
         * @param cookies the peer's cookies, in slot order
         * @return null when they match, or why not
         */
        String prove(long[] cookies);

        /**
         * A confirmation without the right proof was refused (counted and audited).
         *
         * @param reason why
         */
        void refused(String reason);

        /**
         * The exchange ended without a hand-off; the group keeps serving.
         *
         * @param reason why
         */
        void aborted(String reason);

        /** The peer serves: lets go of every descriptor here; the group reads as closed. */
        void letGo();

        /**
         * The peer serves its own sockets as socket generation {@code generation}: the group drains.
         * @param generation the peer's generation, 0..255
         * @return null when the group drains, or why it cannot (then it keeps serving as before)
         */
        default String drain(int generation) {
            return "this side keeps no socket generations";
        }

        /** Closes the duplicates sent. */
        @Override
        void close();
    }

    /** New side: makes a group of what a hand-off delivered. */
    public interface Adopter<G> {
        /** The group of {@code layout}, whose descriptors are already in this process and checked. */
        G adopt(Layout layout) throws IOException;
    }

    /**
     * What the old process passes: the group's shape and what each descriptor is.
     *
     * @param protocol      {@code TCP} or {@code UDP}
     * @param address       the bound address, as a literal
     * @param port          the port
     * @param backlog       the TCP accept-queue length
     * @param receiveBuffer SO_RCVBUF, 0 for the kernel default
     * @param policy        the spec of the policy in force
     * @param tableVersion  the version of the table last published
     * @param slots         the live slot ids
     * @param program       the steering program's name, or null
     * @param fds           the sockets (one per slot), then program and maps when present
     */
    public record Layout(String protocol, String address, int port, int backlog, int receiveBuffer, String policy,
                  int tableVersion, int[] slots, String program, int[] fds) {

        /**
         * The layout line. The table version travels under the key {@code generation}, as protocol
         * version 1 names it, so that this build and an older one can hand off to each other.
         */
        String encode() {
            StringBuilder b = new StringBuilder("LAYOUT");
            b.append(" version=").append(VERSION).append(" protocol=").append(protocol).append(" address=")
                    .append(address).append(" port=").append(port).append(" backlog=").append(backlog)
                    .append(" rcvbuf=").append(receiveBuffer).append(" policy=").append(policy)
                    .append(" generation=").append(tableVersion).append(" slots=").append(join(slots))
                    .append(" program=").append(program == null ? "-" : program);
            return b.toString();
        }

        static Layout decode(String line, int[] fds) {
            if (line == null || !line.startsWith("LAYOUT ")) {
                throw new IllegalArgumentException("hand-off layout expected, got '" + line + "'");
            }
            Map<String, String> kv = new LinkedHashMap<>();
            for (String part : line.substring(7).trim().split(" ")) {
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("hand-off layout field '" + part + "' is not key=value");
                }
                kv.put(part.substring(0, eq), part.substring(eq + 1));
            }
            int version = Integer.parseInt(kv.getOrDefault("version", "0"));
            if (version != VERSION) {
                throw new IllegalArgumentException("hand-off layout version " + version + "; accepted: " + VERSION);
            }
            int[] slots = kv.get("slots").isEmpty() ? new int[0]
                    : java.util.Arrays.stream(kv.get("slots").split(",")).mapToInt(Integer::parseInt).toArray();
            String program = kv.get("program");
            int expected = slots.length + ("-".equals(program) ? 0 : 1 + SteerProgram.MAPS.size());
            if (fds.length != expected) {
                throw new IllegalArgumentException("hand-off carried " + fds.length + " descriptors; the layout names "
                        + expected);
            }
            String protocol = kv.get("protocol");
            if (!"TCP".equals(protocol) && !"UDP".equals(protocol)) {
                throw new IllegalArgumentException("hand-off layout protocol '" + protocol + "'; accepted: TCP, UDP");
            }
            return new Layout(protocol, kv.get("address"),
                    Integer.parseInt(kv.get("port")), Integer.parseInt(kv.get("backlog")),
                    Integer.parseInt(kv.get("rcvbuf")), kv.get("policy"), Integer.parseInt(kv.get("generation")),
                    slots, "-".equals(program) ? null : program, fds);
        }

        private static String join(int[] v) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < v.length; i++) {
                b.append(i == 0 ? "" : ",").append(v[i]);
            }
            return b.toString();
        }
    }

    /**
     * Shuts a control connection down when an exchange's deadline passes, so that a blocked read or write
     * ends whatever the peer trickles.
     */
    private final class Deadline implements AutoCloseable {
        private final Thread timer;
        private final long end;
        private volatile boolean passed;

        Deadline(int fd) {
            end = System.nanoTime() + deadlineMillis * 1_000_000L;
            timer = new Thread(() -> {
                try {
                    Thread.sleep(deadlineMillis);
                } catch (InterruptedException e) {
                    return;
                }
                passed = true;
                try {
                    Sys.shutdown(fd, 2); // SHUT_RDWR: the blocked call returns
                } catch (NativeException ignored) {
                    // already shut down or closed
                }
            }, "reuseport-handoff-deadline");
            timer.setDaemon(true);
            timer.start();
        }

        boolean passed() {
            return passed || System.nanoTime() - end >= 0;
        }

        String describe() {
            return "the exchange did not finish within its deadline of " + deadlineMillis + " ms";
        }

        @Override
        public void close() {
            timer.interrupt();
            try {
                timer.join(1000); // never shut down a descriptor number after its owner closed it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The {@code ready} line: the cookies in slot order, or null when it is not one. */
    static long[] parseReady(String line) {
        if (line == null || !line.startsWith("ready cookies=") || line.length() > 256 * 17 + 14) {
            return null;
        }
        String[] v = line.substring(14).split(",", -1);
        long[] out = new long[v.length];
        try {
            for (int i = 0; i < v.length; i++) {
                out[i] = Long.parseUnsignedLong(v[i], 16);
            }
        } catch (NumberFormatException e) {
            return null;
        }
        return out;
    }

    static String readyLine(long[] cookies) {
        StringBuilder b = new StringBuilder("ready cookies=");
        for (int i = 0; i < cookies.length; i++) {
            b.append(i == 0 ? "" : ",").append(Long.toHexString(cookies[i]));
        }
        return b.toString();
    }

    /**
     * Old side: sends the group over {@code lines}, after the peer asked for {@code version}. Holds no lock
     * of the group while it waits for the peer; the whole exchange has this hand-off's deadline.
     *
     * @param group   the group to hand off
     * @param lines   the control connection
     * @param version the protocol version the peer asked for
     * @return whether the group was handed off
     * @throws IOException when the control connection fails before the exchange began
     */
    public boolean send(Source group, ControlLines lines, String version) throws IOException {
        if (!String.valueOf(VERSION).equals(version)) {
            lines.writeLine("ERR handoff version '" + Shown.printable(version) + "' is not supported; accepted: " + VERSION);
            return false;
        }
        Session session;
        try {
            session = group.handOff();
        } catch (IOException | IllegalStateException e) {
            lines.writeLine("ERR " + Shown.printable(e.getMessage()));
            return false;
        }
        boolean proven = false;
        try (session; Deadline deadline = new Deadline(lines.fd())) {
            try {
                Layout layout = session.layout();
                int[] fds = layout.fds();
                int batches = (fds.length + BATCH - 1) / BATCH;
                lines.writeLine("OK handoff " + VERSION + " fds " + fds.length + " batches " + batches);
                step.accept("old:header");
                for (int b = 0; b < batches; b++) {
                    int from = b * BATCH;
                    int n = Math.min(BATCH, fds.length - from);
                    byte[] frame = String.format("FDS %010d\n", n).getBytes(StandardCharsets.US_ASCII);
                    Sys.sendFds(lines.fd(), java.util.Arrays.copyOf(frame, FRAME), java.util.Arrays.copyOfRange(fds,
                            from, from + n));
                }
                step.accept("old:fds");
                lines.writeLine(layout.encode());
                step.accept("old:layout");
                String answer = lines.readLine();
                if (answer == null || answer.equals("abort")) {
                    session.aborted(deadline.passed() ? deadline.describe() : answer == null
                            ? "the peer went away before confirming" : "the peer aborted");
                    return false;
                }
                long[] cookies = parseReady(answer);
                String refusal = cookies == null
                        ? "'" + Shown.printable(answer.length() > 64 ? answer.substring(0, 64) + "..." : answer)
                                + "' carries no proof; accepted: ready cookies=<SO_COOKIE of each socket received, "
                                + "hex, in slot order>"
                        : session.prove(cookies);
                if (refusal != null) {
                    session.refused(refusal);
                    lines.writeLine("ERR handoff proof refused: " + refusal + "; still serving");
                    return false;
                }
                proven = true;
                lines.writeLine("OK go");
                step.accept("old:proven");
                String serving = lines.readLine();
                int generation = Received.servingGeneration(serving);
                if (!"serving".equals(serving) && generation < 0) {
                    session.aborted(deadline.passed() ? deadline.describe() : serving == null
                            ? "the peer went away after the proof, before serving"
                            : "the peer answered '" + Shown.printable(serving) + "' instead of serving");
                    return false;
                }
                String refused = generation >= 0 ? session.drain(generation) : null;
                if (refused != null) {
                    lines.writeLine("ERR handoff generation " + generation + " refused: " + Shown.printable(refused)
                            + "; still serving");
                    return false;
                } else if (generation < 0) {
                    session.letGo();
                }
            } catch (IOException | RuntimeException e) {
                session.aborted(deadline.passed() ? deadline.describe() : "the exchange failed: " + e.getMessage());
                if (e instanceof RuntimeException r) {
                    throw r;
                }
                return false;
            }
        }
        step.accept("old:confirmed");
        try {
            lines.writeLine("OK bye");
        } catch (IOException e) {
            System.getLogger("dev.reuseport").log(System.Logger.Level.DEBUG, "hand-off goodbye not delivered: "
                    + e.getMessage());
        }
        return true;
    }

    /**
     * The control socket's directory must be owned by this user (or root) and writable by no one else:
     * otherwise another user could have put a socket of theirs there.
     */
    private static void checkDirectory(Path control) throws HandoffFailure {
        Path dir = control.toAbsolutePath().getParent();
        try {
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((owner != Sys.uid() && owner != 0) || (mode & 0022) != 0) {
                throw new HandoffFailure("control socket directory " + dir + " is owned by uid " + owner + " with mode "
                        + Integer.toOctalString(mode & 07777) + "; accepted: owned by uid " + Sys.uid()
                        + " (or root) and writable by no one else (e.g. 0700)");
            }
        } catch (HandoffFailure e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new HandoffFailure("control socket directory " + dir + " cannot be checked: " + e.getMessage(), e);
        }
    }

    private static final Pattern HEADER = Pattern.compile("OK handoff (\\d{1,9}) fds (\\d{1,9}) batches (\\d{1,9})");

    /**
     * New side: takes the group over from the process serving {@code control}.
     *
     * @param control  the old process's control socket
     * @param protocol the protocol the caller expects ({@code TCP}, {@code UDP}), or null for either
     * @param port     the port the caller expects, or 0 for any
     * @param adopter  makes the group of what arrived (after every descriptor was checked)
     * @param <G>      the group type
     * @return the group adopted
     * @throws IOException a {@link HandoffFailure} when refused, broken off, malformed or not what the layout
     *                     says; every received descriptor is closed then
     */
    public <G> G receive(Path control, String protocol, int port, Adopter<G> adopter) throws IOException {
        return receive(control, protocol, port, adopter, g -> -1);
    }

    /**
     * As {@link #receive(Path, String, int, Adopter)}; when {@code generation} gives the socket generation
     * the group serves on sockets of its own, the confirmation is {@code serving generation=N}.
     *
     * @param control    the old process's control socket
     * @param protocol   the protocol the caller expects, or null for either
     * @param port       the port the caller expects, or 0 for any
     * @param adopter    makes the group of what arrived
     * @param generation the group's own socket generation, or -1 when it serves the sockets received
     * @param <G>        the group type
     * @return the group adopted
     * @throws IOException as {@link #receive(Path, String, int, Adopter)}
     */
    public <G> G receive(Path control, String protocol, int port, Adopter<G> adopter,
                         java.util.function.ToIntFunction<G> generation) throws IOException {
        checkDirectory(control);
        UnixSocketChannel ch;
        try {
            ch = UnixSocketChannel.open(new UnixSocketAddress(control.toFile()));
        } catch (IOException e) {
            throw new HandoffFailure("hand-off from " + control + ": cannot connect: " + e.getMessage(), e);
        }
        List<Integer> received = new ArrayList<>();
        boolean kept = false;
        try (Deadline deadline = new Deadline(ch.getFD())) {
            ControlLines lines = new ControlLines(ch.getFD());
            int[] cred = Sys.peerCredentials(lines.fd());
            if (cred[1] != Sys.uid() && cred[1] != 0) {
                throw new HandoffFailure("hand-off from " + control + ": the socket is served by uid " + cred[1]
                        + " (pid " + cred[0] + "); accepted: uid " + Sys.uid() + " or root");
            }
            try {
                lines.writeLine("handoff " + VERSION);
                String head = lines.readLine();
                if (head == null || !head.startsWith("OK handoff ")) {
                    throw new HandoffFailure("hand-off refused by " + control + ": " + shown(head));
                }
                Matcher m = HEADER.matcher(head);
                if (!m.matches() || Integer.parseInt(m.group(1)) != VERSION
                        || Integer.parseInt(m.group(2)) > MAX_FDS
                        || Integer.parseInt(m.group(3)) != (Integer.parseInt(m.group(2)) + BATCH - 1) / BATCH) {
                    throw new HandoffFailure("hand-off from " + control + ": malformed header '" + shown(head)
                            + "'; accepted: OK handoff " + VERSION + " fds <0.." + MAX_FDS + "> batches <fds/" + BATCH
                            + " rounded up>");
                }
                step.accept("new:header");
                int total = Integer.parseInt(m.group(2));
                int batches = Integer.parseInt(m.group(3));
                for (int b = 0; b < batches; b++) {
                    byte[] frame = new byte[FRAME];
                    int[] fds = new int[BATCH];
                    java.util.Arrays.fill(fds, -1);
                    int got = Sys.receiveFds(lines.fd(), frame, fds);
                    for (int fd : fds) {
                        if (fd >= 0) {
                            received.add(fd);
                        }
                    }
                    String f = new String(frame, 0, Math.max(0, got), StandardCharsets.US_ASCII);
                    if (got != FRAME || !f.startsWith("FDS ")) {
                        throw new HandoffFailure("hand-off from " + control + " broke off in descriptor batch " + (b + 1)
                                + " of " + batches);
                    }
                }
                if (received.size() != total) {
                    throw new HandoffFailure("hand-off from " + control + " carried " + received.size()
                            + " descriptors of " + total);
                }
                step.accept("new:fds");
                Layout layout;
                try {
                    layout = Layout.decode(lines.readLine(), received.stream().mapToInt(Integer::intValue).toArray());
                } catch (IllegalArgumentException | NullPointerException e) {
                    throw new HandoffFailure("hand-off from " + control + ": " + e.getMessage(), e);
                }
                long[] cookies;
                try {
                    cookies = Received.check(layout, protocol, port);
                } catch (IllegalArgumentException | NativeException e) {
                    throw new HandoffFailure("hand-off from " + control + ": " + e.getMessage(), e);
                }
                step.accept("new:layout");
                lines.writeLine(readyLine(cookies));
                step.accept("new:ready");
                String go = lines.readLine();
                if (go != null && !go.equals("OK go")) {
                    throw new HandoffFailure("hand-off from " + control + ": the old process answered '" + shown(go)
                            + "' to the proof; it keeps serving");
                }
                if (go == null && deadline.passed()) {
                    throw new HandoffFailure("hand-off from " + control + ": " + deadline.describe());
                }
                G group;
                try {
                    group = adopter.adopt(layout);
                } catch (IOException | RuntimeException e) {
                    abort(lines);
                    throw e instanceof HandoffFailure he ? he : new HandoffFailure("hand-off from " + control
                            + ": cannot adopt the group: " + e.getMessage(), e);
                }
                kept = true;
                if (go == null) {
                    System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "hand-off from " + control
                            + ": the old process went away after passing the sockets; keeping them");
                    return group;
                }
                try {
                    lines.writeLine(generation.applyAsInt(group) >= 0 ? "serving generation=" + generation.applyAsInt(group) : "serving");
                    step.accept("new:serving");
                    String bye = lines.readLine();
                    if (!"OK bye".equals(bye)) {
                        System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "hand-off from " + control
                                + ": the old process answered '" + shown(bye) + "' to serving; keeping the sockets");
                    }
                } catch (IOException e) {
                    System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "hand-off from " + control
                            + ": the old process went away after passing the sockets (" + e.getMessage()
                            + "); keeping them");
                }
                return group;
            } catch (HandoffFailure e) {
                abort(lines);
                throw e;
            } catch (IOException e) {
                abort(lines);
                throw new HandoffFailure("hand-off from " + control + ": " + (deadline.passed() ? deadline.describe()
                        : e.getMessage()), e);
            }
        } finally {
            if (!kept) {
                for (int fd : received) {
                    try {
                        Sys.close(fd);
                    } catch (NativeException ignored) {
                        // a received descriptor we are giving back
                    }
                }
            }
            ch.close();
        }
    }

    private static void abort(ControlLines lines) {
        try {
            lines.writeLine("abort");
        } catch (IOException ignored) {
            // the old side is gone or shut down; it keeps serving either way
        }
    }

    private static String shown(String line) {
        if (line == null) {
            return "end of stream";
        }
        return Shown.printable(line.length() > 80 ? line.substring(0, 80) + "..." : line);
    }
}
