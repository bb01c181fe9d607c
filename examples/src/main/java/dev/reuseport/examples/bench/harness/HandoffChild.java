package dev.reuseport.examples.bench.harness;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * A child JVM of {@code bench soak}'s hand-off churn: {@code old <ctl> <port> <haltAt|->} opens a TCP group
 * of 4 on 127.0.0.1:port, {@code new <ctl> <port> <haltAt|->} takes it over from {@code ctl} (falling back
 * to opening it on its standby sockets); {@code new <ctl> <port> wait} starts ahead of its turn, prints
 * {@code WAITING} and takes over when a line {@code go <haltAt|->} arrives on standard input. Either then serves it (every connection echoed, as
 * {@link CheckedTcpServer}) with a control socket on {@code ctl}, prints {@code READY <port>} (a new one first
 * {@code TOOK-OVER} or {@code FALLBACK}), and exits 0 once it handed off and drained (or on SIGTERM). It prints {@code STEP <name>} at each hand-off step and, at {@code haltAt},
 * {@code HALTING} and waits to be killed (the parent sends SIGKILL: a real kill -9 at that step).
 *
 * <p>The step hook is the library's test seam (a {@code Handoff} given to the package-private
 * {@code GroupOpening.takeOver} and {@code ControlSocket.serve}), reached by reflection: the bench runs
 * the JAR on the class path, and nothing is added to the public API for it.
 */
public final class HandoffChild {
    private HandoffChild() {
    }

    public static void main(String[] args) throws Exception {
        String role = args[0];
        Path ctl = Path.of(args[1]);
        int port = Integer.parseInt(args[2]);
        String given = args[3];
        if (given.equals("wait")) {
            // started ahead of its turn (a JVM takes seconds to start on a loaded machine): load the classes
            // and read the program tags the take-over uses, then wait for "go <haltAt|->" on standard input
            Method tags = Class.forName("dev.reuseport.GroupOpening").getDeclaredMethod("committedTags");
            tags.setAccessible(true);
            tags.invoke(null); // this build's program tags: four verifier runs, kept for the JVM's life
            Class.forName("dev.reuseport.handoff.Handoff");
            jnr.unixsocket.UnixSocketChannel.open().close(); // jnr's native stub for the control connection
            rehearse(ctl.getParent());
            System.out.println("WAITING");
            System.out.flush();
            String go = new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            if (go == null || !go.startsWith("go ")) {
                System.exit(3); // the parent went away or stopped the churn
            }
            given = go.substring(3).trim();
        }
        String haltAt = given;
        Object handoff = handoff(step -> {
            System.out.println("STEP " + step);
            System.out.flush();
            if (step.equals(haltAt)) {
                System.out.println("HALTING");
                System.out.flush();
                try {
                    Thread.sleep(30_000); // the parent kills this process now
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                Runtime.getRuntime().halt(137);
            }
        });
        ReuseportGroup.Builder b = ReuseportGroup.tcp().address("127.0.0.1").port(port).workers(4).backlog(1024);
        ReuseportGroup g;
        if (role.equals("old")) {
            g = b.open();
        } else {
            Method takeOver = Class.forName("dev.reuseport.GroupOpening").getDeclaredMethod("takeOver", Path.class,
                    ReuseportGroup.Builder.class, handoff.getClass());
            takeOver.setAccessible(true);
            g = (ReuseportGroup) takeOver.invoke(null, ctl, b, handoff);
            boolean fell = g.audit().entries().stream().anyMatch(l -> l.contains("takeover-fallback"));
            System.out.println((fell ? "FALLBACK " : "TOOK-OVER ") + g.workers().size());
        }
        Method serve = ControlSocket.class.getDeclaredMethod("serve", ReuseportGroup.class, Path.class, boolean.class,
                handoff.getClass());
        serve.setAccessible(true);
        CheckedTcpServer server = new CheckedTcpServer(g);
        server.serve(g.workers());
        try (ControlSocket cs = (ControlSocket) serve.invoke(null, g, ctl, true, handoff)) {
            cs.command("probe-times", probeTimes());
            if (HandoffChurn.REALTIME > 0) { // -Dchurn.realtime=N: the control threads at SCHED_RR N
                cs.servingPriority(ControlSocket.DEFAULT_SERVING_NICE, HandoffChurn.REALTIME);
            }
            if (HandoffChurn.SERVING_NICE != 0) {
                reniceAllThreads(HandoffChurn.SERVING_NICE);
            }
            System.out.println("READY " + port);
            System.out.flush();
            if (cs.awaitHandOff(Duration.ofHours(2))) { // or SIGTERM from the parent

                System.out.println("HANDED-OFF");
                System.out.flush();
                Thread.sleep(1000); // connections accepted before the hand-off finish
            }
        } finally {
            server.stop();
            g.close();
        }
        System.exit(0);
    }

    /**
     * A hand-off from this JVM to itself on a port of its own (a group opened, served on a control socket in
     * {@code dir}, taken over with standby sockets, closed): the classes, native links and lambdas the real
     * take-over uses are loaded before its turn, so that on a loaded machine the turn is not spent on them.
     */
    private static void rehearse(Path dir) throws Exception {
        Path ctl = dir.resolve("rehearsal-" + ProcessHandle.current().pid());
        Method takeOver = Class.forName("dev.reuseport.GroupOpening").getDeclaredMethod("takeOver", Path.class,
                ReuseportGroup.Builder.class, Class.forName("dev.reuseport.handoff.Handoff"));
        takeOver.setAccessible(true);
        Object plain = Class.forName("dev.reuseport.handoff.Handoff").getField("PLAIN").get(null);
        try (ReuseportGroup first = ReuseportGroup.tcp().address("127.0.0.1").port(0).workers(4).open();
             ControlSocket cs = ControlSocket.serve(first, ctl, false)) {
            ReuseportGroup.Builder b = ReuseportGroup.tcp().address("127.0.0.1").port(first.localAddress().getPort())
                    .workers(4);
            try (ReuseportGroup second = (ReuseportGroup) takeOver.invoke(null, ctl, b, plain)) {
                second.fallbackToKernelHash("rehearsal");
            }
        } finally {
            java.nio.file.Files.deleteIfExists(ctl);
        }
    }

    /**
     * The {@code probe-times} command: the moments (System.nanoTime, CLOCK_MONOTONIC as the parent's) at
     * which this session's previous request was accepted, began on its session thread, was read, ran and was
     * answered ({@code ControlSessions.previousRequest}, a package-private diagnostic reached by reflection),
     * for the parent's fallback probe to break its round trip into parts.
     */
    private static ControlSocket.Command probeTimes() throws ReflectiveOperationException {
        Method m = Class.forName("dev.reuseport.ControlSessions").getDeclaredMethod("previousRequest");
        m.setAccessible(true);
        return (args, body) -> {
            try {
                long[] t = (long[]) m.invoke(null);
                StringBuilder s = new StringBuilder("times");
                for (long v : t) {
                    s.append(' ').append(v);
                }
                return s.toString();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("probe-times: " + e);
            }
        };
    }

    /** {@code new Handoff(step)} of the library's hand-off package. */
    private static Object handoff(Consumer<String> step) throws ReflectiveOperationException {
        Constructor<?> c = Class.forName("dev.reuseport.handoff.Handoff").getConstructor(Consumer.class);
        return c.newInstance(step);
    }

    /**
     * Every thread of this JVM at {@code nice} (Linux's nice is per thread), except those already above it
     * (the control socket's, at nice -10); a thread gone meanwhile is skipped.
     */
    private static void reniceAllThreads(int nice) {
        try (var tasks = java.nio.file.Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String stat = java.nio.file.Files.readString(t.resolve("stat"));
                    // the fields after the name's closing parenthesis begin at the 3rd; nice is the 19th
                    int now = Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]);
                    if (now > nice) {
                        dev.reuseport.sys.internal.Sys.setThreadNice(Integer.parseInt(t.getFileName().toString()), nice);
                    }
                } catch (java.io.IOException e) {
                    // the thread ended since the listing (ESRCH)
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("serving nice " + nice + " not set: " + e); // runs on at the priority it has
        }
    }
}
