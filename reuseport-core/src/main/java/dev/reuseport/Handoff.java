package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;

/**
 * The cross-process hand-off (a binary upgrade without losing a connection), as Envoy's hot restart
 * and HAProxy's {@code expose-fd listeners} do it. On the old process's control socket:
 * <pre>
 *   new → old   handoff 1
 *   old → new   OK handoff 1 fds N batches B        (or ERR ..., e.g. a version mismatch)
 *   old → new   B messages of 16 bytes "FDS nnnnnnnnn\n", each carrying up to 200 descriptors by SCM_RIGHTS
 *   old → new   LAYOUT key=value ...                 (what each descriptor is, slots, policy, generation)
 *   new → old   ready                                 (the new process accepts on the same sockets now)
 *   old → new   OK bye                                (the old one has let go of its descriptors)
 * </pre>
 * The sockets are the same kernel objects in both processes, so their queues carry over untouched.
 * If the new process dies or says {@code abort} before {@code ready}, the old one keeps serving; if the
 * old one dies after the descriptors arrived, the new one keeps them.
 */
final class Handoff {
    /** The protocol version this build speaks. */
    static final int VERSION = 1;
    /** Descriptors per SCM_RIGHTS message (the kernel's limit is 253). */
    static final int BATCH = 200;
    static final int FRAME = 16;
    static final int TIMEOUT_MILLIS = 10_000;

    /**
     * Called at each step of the exchange with its name ({@code old:header}, {@code old:fds},
     * {@code old:layout}, {@code old:confirmed}, {@code new:header}, {@code new:fds}, {@code new:layout},
     * {@code new:ready}); tests set it to kill the process at a chosen step. Does nothing by default.
     */
    static volatile java.util.function.Consumer<String> step = s -> { };

    /** Emits the step as a JFR event, then runs the test hook. */
    private static void step(String name) {
        int c = name.indexOf(':');
        ReuseportEvents.handoffStep(name.substring(0, c), name.substring(c + 1), "");
        step.accept(name);
    }

    private Handoff() {
    }

    /** What the old process passes: the group's shape and what each descriptor is. */
    record Layout(Protocol protocol, String address, int port, int backlog, int receiveBuffer, String policy,
                  int generation, int[] slots, String program, int[] fds) {

        /** The descriptors for the sockets (one per slot), then program and maps when present. */
        String encode() {
            StringBuilder b = new StringBuilder("LAYOUT");
            b.append(" version=").append(VERSION).append(" protocol=").append(protocol).append(" address=")
                    .append(address).append(" port=").append(port).append(" backlog=").append(backlog)
                    .append(" rcvbuf=").append(receiveBuffer).append(" policy=").append(policy)
                    .append(" generation=").append(generation).append(" slots=").append(join(slots))
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
            return new Layout(Protocol.valueOf(kv.get("protocol")), kv.get("address"),
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

    /** Old side: sends the group over {@code lines}, after the peer asked for {@code version}. */
    static boolean send(ReuseportGroup group, ControlLines lines, String version) throws IOException {
        if (!String.valueOf(VERSION).equals(version)) {
            lines.writeLine("ERR handoff version '" + Shown.printable(version) + "' is not supported; accepted: " + VERSION);
            return false;
        }
        return group.handOff(layout -> {
            int[] fds = layout.fds();
            int batches = (fds.length + BATCH - 1) / BATCH;
            lines.writeLine("OK handoff " + VERSION + " fds " + fds.length + " batches " + batches);
            step("old:header");
            for (int b = 0; b < batches; b++) {
                int from = b * BATCH;
                int n = Math.min(BATCH, fds.length - from);
                byte[] frame = String.format("FDS %010d\n", n).getBytes(StandardCharsets.US_ASCII);
                Sys.sendFds(lines.fd(), java.util.Arrays.copyOf(frame, FRAME), java.util.Arrays.copyOfRange(fds, from,
                        from + n));
            }
            step("old:fds");
            lines.writeLine(layout.encode());
            step("old:layout");
            String answer;
            try {
                answer = lines.readLine();
            } catch (IOException e) {
                answer = null;
            }
            return "ready".equals(answer);
        }, () -> {
            step("old:confirmed");
            lines.writeLine("OK bye");
        });
    }

    /** New side: takes the group over from the process serving {@code control}. */
    static ReuseportGroup receive(Path control) throws IOException {
        UnixSocketChannel ch = UnixSocketChannel.open(new UnixSocketAddress(control.toFile()));
        List<Integer> received = new ArrayList<>();
        boolean kept = false;
        try {
            ControlLines lines = new ControlLines(ch.getFD());
            Sys.setTimeouts(lines.fd(), TIMEOUT_MILLIS);
            lines.writeLine("handoff " + VERSION);
            String head = lines.readLine();
            if (head == null || !head.startsWith("OK handoff ")) {
                throw new HandoffException("hand-off refused by " + control + ": " + head);
            }
            String[] h = head.split(" ");
            step("new:header");
            int total = Integer.parseInt(h[4]);
            int batches = Integer.parseInt(h[6]);
            for (int b = 0; b < batches; b++) {
                byte[] frame = new byte[FRAME];
                int[] fds = new int[BATCH];
                int got = Sys.receiveFds(lines.fd(), frame, fds);
                for (int fd : fds) {
                    if (fd >= 0) {
                        received.add(fd);
                    }
                }
                String f = new String(frame, 0, Math.max(0, got), StandardCharsets.US_ASCII);
                if (got != FRAME || !f.startsWith("FDS ")) {
                    throw new HandoffException("hand-off from " + control + " broke off in descriptor batch " + (b + 1)
                            + " of " + batches);
                }
            }
            if (received.size() != total) {
                throw new HandoffException("hand-off from " + control + " carried " + received.size()
                        + " descriptors of " + total);
            }
            step("new:fds");
            Layout layout;
            try {
                layout = Layout.decode(lines.readLine(), received.stream().mapToInt(Integer::intValue).toArray());
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new HandoffException("hand-off from " + control + ": " + e.getMessage(), e);
            }
            ReuseportGroup group;
            try {
                group = ReuseportGroup.adopt(layout);
            } catch (IOException | RuntimeException e) {
                lines.writeLine("abort");
                throw e instanceof HandoffException he ? he
                        : new HandoffException("hand-off from " + control + ": cannot adopt the group: " + e.getMessage(), e);
            }
            kept = true;
            step("new:layout");
            try {
                lines.writeLine("ready");
                step("new:ready");
                String bye = lines.readLine();
                if (!"OK bye".equals(bye)) {
                    System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "hand-off from " + control
                            + ": the old process answered '" + bye + "' to ready; keeping the sockets");
                }
            } catch (IOException e) {
                System.getLogger("dev.reuseport").log(System.Logger.Level.WARNING, "hand-off from " + control
                        + ": the old process went away after passing the sockets (" + e.getMessage() + "); keeping them");
            }
            return group;
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
}
