package dev.reuseport.examples;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench restart}: connections lost while the listening sockets change under load. The same load
 * (8 client threads, a new connection per request) runs against 8 workers in four phases, one after the
 * other: a naive restart on raw SO_REUSEPORT listeners with no BPF program (open 8 new, swap them in,
 * close the old 8), the library's in-process generation swap ({@link ReuseportGroup#restart()}), its
 * resize 8 → 4 → 8, and cross-process hand-offs between child JVMs running {@code echo --serve}. Meant to
 * run in a private network namespace ({@code unshare -n}); net.ipv4.tcp_migrate_req must be 0 there (it
 * is only read, never written), so that only the library's select-or-migrate program can save the
 * requests queued on a closing listener.
 */
@Command(name = "restart", mixinStandardHelpOptions = true,
        description = "Connections lost across restarts: naive kernel restart vs the library's swap, resize and "
                + "hand-off, under the same load (run inside unshare -n).")
final class BenchRestart implements Callable<Integer> {
    static final int WORKERS = 8;
    static final int CLIENTS = 8;
    static final int TIMEOUT_MILLIS = 5000;
    static final int BACKLOG = 1024;
    /** Load before the first and after the last operation of a phase. */
    static final long SETTLE_MILLIS = 300;
    /** No in-process phase runs its operations longer than this; the ones left are skipped and reported. */
    static final long PHASE_BUDGET_MILLIS = 60_000;
    /** The same for the hand-off phase, whose every operation starts a JVM. */
    static final long HANDOFF_BUDGET_MILLIS = 120_000;
    /** Failures kept with their time for the report. */
    static final int KEPT_FAILURES = 10_000;
    static final String MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req";
    static final List<String> COUNTERS = List.of("TcpExt.TCPMigrateReqSuccess", "TcpExt.TCPMigrateReqFailure",
            "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPAbortOnClose", "Tcp.OutRsts",
            "Tcp.EstabResets", "Tcp.AttemptFails");

    @Spec
    CommandSpec spec;

    @Option(names = "--restarts", defaultValue = "100", description = "restarts in the kernel and swap phases "
            + "(default ${DEFAULT-VALUE})")
    int restarts;

    @Option(names = "--resizes", defaultValue = "20", description = "resizes, alternating 8 -> 4 and 4 -> 8 "
            + "(default ${DEFAULT-VALUE})")
    int resizes;

    @Option(names = "--handoffs", defaultValue = "10", description = "cross-process hand-offs between child JVMs "
            + "(default ${DEFAULT-VALUE})")
    int handoffs;

    private final List<Child> children = Collections.synchronizedList(new ArrayList<>());

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        check("--restarts", restarts, 10_000);
        check("--resizes", resizes, 10_000);
        check("--handoffs", handoffs, 100);
        String refusal = prepareNetwork(out);
        if (refusal != null) {
            err.println("bench restart: " + refusal);
            return 2;
        }
        Thread reaper = new Thread(this::killChildren, "bench-restart-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        out.printf("load: %d client threads, a new connection per request, %d ms timeouts; %d workers per server%n",
                CLIENTS, TIMEOUT_MILLIS, WORKERS);
        out.flush();
        List<Phase> phases = new ArrayList<>();
        phases.add(kernelPhase(out, lo));
        phases.add(swapPhase(out, lo));
        phases.add(resizePhase(out, lo));
        phases.add(handoffPhase(out, lo));
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException e) {
            // shutting down already
        }

        out.println();
        out.printf("%-8s %-34s %10s %12s %8s %10s%n", "phase", "operation", "operations", "connections", "failed",
                "failure %");
        for (Phase p : phases) {
            out.printf("%-8s %-34s %10d %12d %8d %9.4f%%%n", p.name, p.what, p.ops, p.total(), p.failed(),
                    p.total() == 0 ? 0.0 : 100.0 * p.failed() / p.total());
        }
        out.println();
        for (Phase p : phases) {
            p.report(out);
        }
        Phase k = phases.get(0);
        Phase s = phases.get(1);
        Phase r = phases.get(2);
        Phase h = phases.get(3);
        boolean pass = k.failed() > 0 && s.failed() == 0 && r.failed() == 0 && h.failed() == 0
                && s.complete() && r.complete() && h.complete() && s.total() > 0 && r.total() > 0
                && (handoffs == 0 || h.total() > 0);
        out.println((pass ? "PASS" : "FAIL") + ": kernel baseline lost " + k.failed() + " connections; the library lost "
                + s.failed() + " (swap), " + r.failed() + " (resize), " + h.failed() + " (hand-off)"
                + (s.complete() && r.complete() && h.complete() ? "" : "; some operations did not complete, see above"));
        out.printf("RESULT restart kernel_failed=%d kernel_total=%d swap_failed=%d swap_total=%d resize_failed=%d "
                        + "resize_total=%d handoff_failed=%d handoff_total=%d%n", k.failed(), k.total(), s.failed(),
                s.total(), r.failed(), r.total(), h.failed(), h.total());
        out.flush();
        return 0;
    }

    private void check(String name, int value, int max) {
        if (value < 0 || value > max) {
            throw new ParameterException(spec.commandLine(), name + " " + value + " is out of range; accepted: 0.." + max);
        }
    }

    /** Brings lo up when it is down and reads tcp_migrate_req; a refusal message, or null to go on. */
    private static String prepareNetwork(PrintWriter out) throws IOException, InterruptedException {
        NetworkInterface lo = NetworkInterface.getByName("lo"); // null while down: no address yet
        if (lo == null || !lo.isUp()) {
            out.println("lo is down in this network namespace: running 'ip link set lo up'");
            Process p = new ProcessBuilder("ip", "link", "set", "lo", "up").redirectErrorStream(true).start();
            String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "'ip link set lo up' did not finish within 10 s";
            }
            NetworkInterface now = NetworkInterface.getByName("lo");
            if (p.exitValue() != 0 || now == null || !now.isUp()) {
                return "'ip link set lo up' failed (exit " + p.exitValue() + ": " + said + "); run as root inside "
                        + "'unshare -n', or bring lo up first";
            }
        }
        Path f = Path.of(MIGRATE_REQ);
        if (!Files.exists(f)) {
            out.println("net.ipv4.tcp_migrate_req: absent (kernel before 5.14: the kernel never migrates requests)");
            return null;
        }
        String v = Files.readString(f).trim();
        out.println("net.ipv4.tcp_migrate_req = " + v + " (read only; this benchmark never writes it)");
        if (!v.equals("0")) {
            return "net.ipv4.tcp_migrate_req is " + v + " in this network namespace; this benchmark needs 0 so that "
                    + "only the library's select-or-migrate program can move queued requests (it does not change the "
                    + "setting). Run it in a fresh namespace: unshare -n java -jar reuseport-examples.jar bench restart";
        }
        return null;
    }

    // ---------------------------------------------------------------- phases

    private Phase kernelPhase(PrintWriter out, InetAddress lo) throws Exception {
        Phase p = new Phase("kernel", "naive restart (raw fds, no BPF)", restarts);
        try (NaiveServer server = new NaiveServer(lo)) {
            p.notes.add("8 raw listeners (SO_REUSEPORT, bind, listen " + BACKLOG + "), no BPF program; a restart "
                    + "opens 8 new ones, swaps them into the worker slots and closes the old 8 without draining");
            drive(out, p, server.address(), false, i -> server.restart(), 20, 50);
            p.serverErrors.putAll(server.errors.snapshot());
        }
        return p;
    }

    private Phase swapPhase(PrintWriter out, InetAddress lo) throws Exception {
        Phase p = new Phase("swap", "group.restart()", restarts);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).backlog(BACKLOG).open();
             GroupServer server = new GroupServer(g)) {
            p.notes.add("steering: " + g.capabilities().steering() + " (" + g.capabilities().steeringReason() + ")");
            drive(out, p, g.localAddress(), false, i -> g.restart(), 20, 50);
            p.notes.add("group.restarts() = " + g.restarts() + ", steering generation " + g.generation());
            server.stop();
            p.serverErrors.putAll(server.errors.snapshot());
        }
        return p;
    }

    private Phase resizePhase(PrintWriter out, InetAddress lo) throws Exception {
        Phase p = new Phase("resize", "group.resize(4) / resize(8)", resizes);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).backlog(BACKLOG).open();
             GroupServer server = new GroupServer(g)) {
            p.notes.add("steering: " + g.capabilities().steering() + " (" + g.capabilities().steeringReason() + ")");
            drive(out, p, g.localAddress(), false, i -> {
                int n = i % 2 == 0 ? WORKERS / 2 : WORKERS;
                List<Worker> added = g.resize(n);
                server.serve(added);
                if (g.workers().size() != n) {
                    throw new IllegalStateException("resize(" + n + ") left " + g.workers().size() + " workers");
                }
            }, 20, 50);
            p.notes.add("workers at the end: " + g.workers().size());
            server.stop();
            p.serverErrors.putAll(server.errors.snapshot());
        }
        return p;
    }

    private Phase handoffPhase(PrintWriter out, InetAddress lo) throws Exception {
        Phase p = new Phase("handoff", "echo --serve --take-over (new JVM)", handoffs);
        if (handoffs == 0) {
            return p;
        }
        Path dir = Files.createTempDirectory("reuseport-restart-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path ctl = dir.resolve("ctl");
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, lo)) {
            port = probe.getLocalPort(); // a free port in this namespace, for every generation
        }
        Child[] current = new Child[1];
        try {
            current[0] = Child.start(this, dir, 0, "echo", "--serve", "--protocol", "tcp", "--address",
                    lo.getHostAddress(), "--port", Integer.toString(port), "--workers", Integer.toString(WORKERS),
                    "--control", ctl.toString(), "--drain-seconds", "10");
            p.notes.add("generation 0: pid " + current[0].pid() + " serving 127.0.0.1:" + port + ", control socket "
                    + ctl + " (directory mode 0700)");
            drive(out, p, new InetSocketAddress(lo, port), true, i -> {
                Child prev = current[0];
                long t0 = System.nanoTime();
                Child next = Child.start(this, dir, i + 1, "echo", "--serve", "--protocol", "tcp", "--address",
                        lo.getHostAddress(), "--port", Integer.toString(port), "--workers", Integer.toString(WORKERS),
                        "--take-over", ctl.toString(), "--drain-seconds", "10");
                current[0] = next;
                long ready = System.nanoTime();
                int exit = prev.awaitExit(Duration.ofSeconds(20));
                long gone = System.nanoTime();
                String took = String.format("READY after %.2f s, previous pid %d exited %s after %.2f s",
                        (ready - t0) / 1e9, prev.pid(), exit == Integer.MIN_VALUE ? "NOT (killed)" : "with " + exit,
                        (gone - ready) / 1e9);
                if (exit != 0 || !prev.saw("handed off")) {
                    p.opFailed = true; // the old process did not hand off and exit by itself
                    p.notes.add("hand-off " + (i + 1) + " NOT clean: " + took + "; its output: " + prev.tail());
                }
                String warned = next.libraryWarnings();
                if (!warned.isEmpty()) {
                    p.notes.add("hand-off " + (i + 1) + ": the new process (pid " + next.pid() + ") logged: " + warned);
                }
                p.opNotes.add(took);
            }, 0, 0, 10, HANDOFF_BUDGET_MILLIS);
        } finally {
            if (current[0] != null) {
                int exit = current[0].stop(Duration.ofSeconds(10));
                p.notes.add("last generation (pid " + current[0].pid() + ") stopped after the load, exit " + exit);
            }
            killChildren();
            deleteTree(dir);
        }
        if (!p.opNotes.isEmpty()) {
            p.notes.add("first hand-off: " + p.opNotes.get(0) + "; last: " + p.opNotes.get(p.opNotes.size() - 1));
        }
        return p;
    }

    /** One operation of a phase (a restart, a resize, a hand-off). */
    @FunctionalInterface
    interface Op {
        void run(int index) throws Exception;
    }

    /**
     * Runs the load against {@code target}, and meanwhile {@code p.planned} operations, {@code minGap} to
     * {@code maxGap} ms apart, bounded by {@link #PHASE_BUDGET_MILLIS}.
     */
    private static void drive(PrintWriter out, Phase p, InetSocketAddress target, boolean halfClose, Op op,
                              int minGap, int maxGap) throws Exception {
        drive(out, p, target, halfClose, op, minGap, maxGap, 0, PHASE_BUDGET_MILLIS);
    }

    /** As above; a positive {@code loadNice} lowers the load threads' priority by that much. */
    private static void drive(PrintWriter out, Phase p, InetSocketAddress target, boolean halfClose, Op op,
                              int minGap, int maxGap, int loadNice, long budgetMillis) throws Exception {
        out.printf("phase %-8s %d × %s against %s ...%n", p.name, p.planned, p.what, target);
        out.flush();
        Map<String, Long> before = kernelCounters();
        Load load = new Load(target, halfClose);
        p.start = System.nanoTime();
        load.start(budgetMillis + 30_000);
        if (loadNice > 0) {
            int n = load.lowerPriority(loadNice);
            p.notes.add(n == CLIENTS ? "the " + n + " load threads run at nice " + loadNice + " so that each new child "
                    + "JVM starts in seconds on this machine's CPUs; the load itself is unchanged"
                    : "could not renice the load threads (renice gave " + n + "); child JVMs start slowly under load");
        }
        try {
            Thread.sleep(SETTLE_MILLIS);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
            for (int i = 0; i < p.planned; i++) {
                if (System.nanoTime() > deadline) {
                    p.notes.add("phase budget of " + budgetMillis / 1000 + " s spent after " + i + " of "
                            + p.planned + " operations");
                    break;
                }
                long t0 = System.nanoTime();
                try {
                    op.run(i);
                } catch (Exception | Error e) {
                    p.opTimes.add(new long[] {t0, System.nanoTime()});
                    p.notes.add("operation " + (i + 1) + " failed, phase stopped: " + e);
                    p.opFailed = true;
                    break;
                }
                p.opTimes.add(new long[] {t0, System.nanoTime()});
                p.ops++;
                if (maxGap > 0) {
                    Thread.sleep(ThreadLocalRandom.current().nextInt(minGap, maxGap + 1));
                }
            }
            Thread.sleep(SETTLE_MILLIS);
        } finally {
            load.stop();
            p.end = System.nanoTime();
            p.load = load;
            Map<String, Long> after = kernelCounters();
            for (String k : COUNTERS) {
                if (before.containsKey(k) && after.containsKey(k)) {
                    p.counters.put(k, after.get(k) - before.get(k));
                }
            }
        }
        out.printf("phase %-8s done: %d operations, %d connections, %d failed, %.1f s%n", p.name, p.ops, p.total(),
                p.failed(), (p.end - p.start) / 1e9);
        out.flush();
    }

    /** TcpExt and Tcp counters of this network namespace (/proc/net/netstat, /proc/net/snmp), by "Group.Name". */
    static Map<String, Long> kernelCounters() {
        Map<String, Long> m = new TreeMap<>();
        for (String file : List.of("/proc/net/netstat", "/proc/net/snmp")) {
            try {
                List<String> lines = Files.readAllLines(Path.of(file));
                for (int i = 0; i + 1 < lines.size(); i += 2) {
                    String[] names = lines.get(i).split("\\s+");
                    String[] values = lines.get(i + 1).split("\\s+");
                    if (names.length != values.length || !names[0].equals(values[0])) {
                        continue;
                    }
                    String group = names[0].replace(":", "");
                    for (int j = 1; j < names.length; j++) {
                        try {
                            m.put(group + "." + names[j], Long.parseLong(values[j]));
                        } catch (NumberFormatException e) {
                            // not a counter
                        }
                    }
                }
            } catch (IOException e) {
                // counters are a diagnostic only
            }
        }
        return m;
    }

    // ---------------------------------------------------------------- results

    /** What one phase did. */
    static final class Phase {
        final String name;
        final String what;
        final int planned;
        int ops;
        boolean opFailed;
        long start;
        long end;
        Load load;
        final List<long[]> opTimes = new ArrayList<>();
        final List<String> notes = new ArrayList<>();
        final List<String> opNotes = new ArrayList<>();
        final Map<String, Long> counters = new LinkedHashMap<>();
        final Map<String, Long> serverErrors = new TreeMap<>();

        Phase(String name, String what, int planned) {
            this.name = name;
            this.what = what;
            this.planned = planned;
        }

        long total() {
            return load == null ? 0 : load.ok.sum() + load.failed.sum();
        }

        long failed() {
            return load == null ? 0 : load.failed.sum();
        }

        boolean complete() {
            return ops == planned && !opFailed;
        }

        void report(PrintWriter out) {
            double secs = (end - start) / 1e9;
            out.printf("%s: %d of %d operations in %.1f s, %d connections (%.0f/s), %d failed%n", name, ops, planned,
                    secs, total(), secs > 0 ? total() / secs : 0.0, failed());
            for (String n : notes) {
                out.println("  " + n);
            }
            if (!opTimes.isEmpty()) {
                long[] d = opTimes.stream().mapToLong(t -> (t[1] - t[0]) / 1000).sorted().toArray();
                out.printf("  operation time: median %.1f ms, max %.1f ms%n", d[d.length / 2] / 1e3,
                        d[d.length - 1] / 1e3);
            }
            StringBuilder c = new StringBuilder();
            counters.forEach((k, v) -> c.append(c.length() == 0 ? "" : ", ").append(k.substring(k.indexOf('.') + 1))
                    .append(' ').append(v));
            out.println("  kernel counters (this namespace, during the phase): " + c);
            if (!serverErrors.isEmpty()) {
                out.println("  server-side errors: " + serverErrors);
            }
            if (load != null && failed() > 0) {
                out.println("  client failures by cause:");
                new TreeMap<>(load.snapshotReasons()).forEach((k, v) -> out.printf("    %6d  %s%n", v, k));
                attribute(out);
            }
        }

        /** Places each failure on the time line of the operations. */
        private void attribute(PrintWriter out) {
            List<Load.Failure> fs = new ArrayList<>(load.failures);
            fs.sort((a, b) -> Long.compare(a.nanos(), b.nanos()));
            int during = 0;
            int within100 = 0;
            int within1000 = 0;
            int other = 0;
            List<String> examples = new ArrayList<>();
            for (Load.Failure f : fs) {
                long[] op = null;
                int idx = -1;
                for (int i = 0; i < opTimes.size(); i++) {
                    if (opTimes.get(i)[0] <= f.nanos()) {
                        op = opTimes.get(i);
                        idx = i;
                    }
                }
                String where;
                if (op == null) {
                    other++;
                    where = "before the first operation";
                } else {
                    long sinceStart = f.nanos() - op[0];
                    long sinceEnd = f.nanos() - op[1];
                    if (sinceEnd <= 0) {
                        during++;
                        where = String.format("during operation %d (%.1f ms into it; it took %.1f ms)",
                                idx + 1, sinceStart / 1e6, (op[1] - op[0]) / 1e6);
                    } else {
                        if (sinceEnd <= 100_000_000L) {
                            within100++;
                        } else if (sinceEnd <= 1_000_000_000L) {
                            within1000++;
                        } else {
                            other++;
                        }
                        where = String.format("%.1f ms after operation %d ended", sinceEnd / 1e6, idx + 1);
                    }
                }
                if (examples.size() < 5) {
                    examples.add(String.format("+%.3f s: %s; seen %s; the request began %.1f ms before",
                            (f.nanos() - start) / 1e9, f.reason(), where, (f.nanos() - f.started()) / 1e6));
                }
            }
            out.printf("  when %d kept failures were seen: %d during an operation, %d within 100 ms after one, "
                    + "%d within 1 s, %d elsewhere%n", fs.size(), during, within100, within1000, other);
            examples.forEach(e -> out.println("    " + e));
        }
    }

    // ---------------------------------------------------------------- load

    /** 8 client threads in this JVM, each opening a connection per request until stopped. */
    static final class Load {
        record Failure(long started, long nanos, String reason) {
        }

        private final InetSocketAddress target;
        private final boolean halfClose;
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean stopped;
        final LongAdder ok = new LongAdder();
        final LongAdder failed = new LongAdder();
        private final ConcurrentHashMap<String, LongAdder> reasons = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
        private final AtomicInteger kept = new AtomicInteger();

        Load(InetSocketAddress target, boolean halfClose) {
            this.target = target;
            this.halfClose = halfClose;
        }

        void start(long maxMillis) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
            for (int t = 0; t < CLIENTS; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (long i = 0; i < 100_000_000L && !stopped && System.nanoTime() < deadline; i++) {
                        long t0 = System.nanoTime();
                        String why = once((byte) ('a' + (id + i) % 26));
                        if (why == null) {
                            ok.increment();
                        } else {
                            failed.increment();
                            reasons.computeIfAbsent(why, k -> new LongAdder()).increment();
                            if (kept.incrementAndGet() <= KEPT_FAILURES) {
                                failures.add(new Failure(t0, System.nanoTime(), why));
                            }
                        }
                    }
                }, "restart-load-" + t);
                threads.add(th);
                th.start();
            }
        }

        /**
         * Lowers the scheduling priority of this load's threads (setpriority on each thread id, through
         * {@code renice}): only this process's own threads, found by name in /proc/self/task. Returns how
         * many were reniced, or -1 when renice failed.
         */
        int lowerPriority(int nice) {
            List<String> cmd = new ArrayList<>(List.of("renice", "-n", Integer.toString(nice), "-p"));
            try (var tasks = Files.list(Path.of("/proc/self/task"))) {
                for (Path t : (Iterable<Path>) tasks::iterator) {
                    try {
                        if (Files.readString(t.resolve("comm")).startsWith("restart-load-")) {
                            cmd.add(t.getFileName().toString());
                        }
                    } catch (IOException e) {
                        // the thread ended
                    }
                }
            } catch (IOException e) {
                return -1;
            }
            int n = cmd.size() - 4;
            if (n == 0) {
                return 0;
            }
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return -1;
                }
                return p.exitValue() == 0 ? n : -1;
            } catch (IOException | InterruptedException e) {
                return -1;
            }
        }

        void stop() throws InterruptedException {
            stopped = true;
            for (Thread th : threads) {
                th.join(2L * TIMEOUT_MILLIS + 5000);
            }
        }

        Map<String, Long> snapshotReasons() {
            Map<String, Long> m = new TreeMap<>();
            reasons.forEach((k, v) -> m.put(k, v.sum()));
            return m;
        }

        /** One request: null when the byte came back, else why not. */
        private String once(byte b) {
            String stage = "connect";
            try (Socket s = new Socket()) {
                s.setTcpNoDelay(true);
                s.setSoTimeout(TIMEOUT_MILLIS);
                s.connect(target, TIMEOUT_MILLIS);
                stage = "write";
                s.getOutputStream().write(b);
                if (halfClose) {
                    stage = "shutdownOutput";
                    s.shutdownOutput();
                }
                stage = "read";
                InputStream in = s.getInputStream();
                int r = in.read();
                if (r < 0) {
                    return "read: end of stream before the echo";
                }
                if ((byte) r != b) {
                    return "read: another byte than was sent";
                }
                if (halfClose && in.read() >= 0) {
                    return "read: more bytes than were sent";
                }
                return null;
            } catch (SocketTimeoutException e) {
                return stage + ": timed out after " + TIMEOUT_MILLIS + " ms";
            } catch (IOException e) {
                return stage + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        }
    }

    /** Server-side errors by cause. */
    static final class Errors {
        private final ConcurrentHashMap<String, LongAdder> m = new ConcurrentHashMap<>();

        void add(String why) {
            m.computeIfAbsent(why, k -> new LongAdder()).increment();
        }

        Map<String, Long> snapshot() {
            Map<String, Long> s = new TreeMap<>();
            m.forEach((k, v) -> s.put(k, v.sum()));
            return s;
        }
    }

    // ---------------------------------------------------------------- servers

    /**
     * The baseline: 8 raw SO_REUSEPORT listeners, no BPF program, a thread per slot accepting from the
     * slot's current descriptor. A restart opens 8 new listeners, swaps them into the slots and closes
     * the old 8 as soon as no worker thread is inside a call on them (so a number is never closed under
     * a call), without draining their queues.
     */
    static final class NaiveServer implements AutoCloseable {
        private final InetAddress address;
        private final int family;
        private final int port;
        private final AtomicIntegerArray slots = new AtomicIntegerArray(WORKERS);
        private final AtomicIntegerArray inUse = new AtomicIntegerArray(WORKERS);
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean stopping;
        final Errors errors = new Errors();

        NaiveServer(InetAddress address) throws IOException {
            this.address = address;
            this.family = SockAddr.family(address);
            int first = listener(0);
            this.port = Sys.localAddress(first).getPort();
            slots.set(0, first);
            for (int i = 1; i < WORKERS; i++) {
                slots.set(i, listener(port));
            }
            for (int i = 0; i < WORKERS; i++) {
                inUse.set(i, -1);
                int slot = i;
                Thread t = new Thread(() -> run(slot), "naive-worker-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        InetSocketAddress address() {
            return new InetSocketAddress(address, port);
        }

        private int listener(int p) throws NativeException {
            int fd = Sys.socket(family, Sys.SOCK_STREAM | Sys.SOCK_NONBLOCK, 0);
            try {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
                Sys.bind(fd, new InetSocketAddress(address, p), family);
                Sys.listen(fd, BACKLOG);
                return fd;
            } catch (NativeException e) {
                Sys.close(fd);
                throw e;
            }
        }

        /** Opens 8 new listeners, swaps them in, closes the old 8. */
        void restart() throws IOException, InterruptedException {
            int[] fresh = new int[WORKERS];
            for (int i = 0; i < WORKERS; i++) {
                fresh[i] = listener(port);
            }
            int[] old = new int[WORKERS];
            for (int i = 0; i < WORKERS; i++) {
                old[i] = slots.getAndSet(i, fresh[i]);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            for (int i = 0; i < WORKERS; i++) {
                while (inUse.get(i) == old[i] && System.nanoTime() < deadline) {
                    Thread.sleep(0, 200_000);
                }
            }
            for (int fd : old) {
                Sys.close(fd);
            }
        }

        private void run(int slot) {
            ByteBuffer buf = ByteBuffer.allocateDirect(16);
            while (!stopping) {
                int f = slots.get(slot);
                inUse.set(slot, f);
                if (slots.get(slot) != f) {
                    inUse.set(slot, -1);
                    continue;
                }
                int c;
                try {
                    c = Sys.accept(f, false);
                    if (c < 0) {
                        Sys.poll(f, Sys.POLLIN, 10);
                        continue;
                    }
                } catch (NativeException e) {
                    errors.add("accept: " + e.getMessage());
                    continue;
                } finally {
                    inUse.set(slot, -1);
                }
                echoOne(c, buf, errors);
            }
        }

        @Override
        public void close() throws Exception {
            stopping = true;
            for (Thread t : threads) {
                t.join(2000);
            }
            for (int i = 0; i < WORKERS; i++) {
                Sys.close(slots.get(i));
            }
        }
    }

    /** Reads one byte from an accepted descriptor, writes it back, closes. */
    static void echoOne(int c, ByteBuffer buf, Errors errors) {
        try {
            Sys.setTimeouts(c, TIMEOUT_MILLIS);
            buf.clear().limit(1);
            int n = Sys.read(c, buf);
            if (n != 1) {
                errors.add("read: " + (n < 0 ? "end of stream" : "timed out"));
                return;
            }
            buf.flip();
            while (buf.hasRemaining()) {
                if (Sys.write(c, buf) == 0) {
                    errors.add("write: timed out");
                    return;
                }
            }
        } catch (NativeException e) {
            errors.add(e.getMessage());
        } finally {
            try {
                Sys.close(c);
            } catch (NativeException e) {
                errors.add(e.getMessage());
            }
        }
    }

    /** The library's workers, a thread each: accept, echo one byte, close. */
    static final class GroupServer implements AutoCloseable {
        private final ReuseportGroup group;
        private final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
        private volatile boolean stopping;
        final Errors errors = new Errors();

        GroupServer(ReuseportGroup group) {
            this.group = group;
            serve(group.workers());
        }

        void serve(List<Worker> ws) {
            for (Worker w : ws) {
                Thread t = new Thread(() -> run(w), "group-worker-" + w.slot());
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        private void run(Worker w) {
            ByteBuffer buf = ByteBuffer.allocateDirect(16);
            while (!stopping) {
                Connection c;
                try {
                    c = w.accept(Duration.ofMillis(50));
                } catch (GroupClosedException e) {
                    return; // the worker was removed, or the group closed
                } catch (IOException | RuntimeException e) {
                    errors.add("accept: " + e.getMessage());
                    continue;
                }
                if (c != null) {
                    try (c) {
                        Sys.setTimeouts(c.fd(), TIMEOUT_MILLIS);
                        buf.clear().limit(1);
                        int n = c.read(buf);
                        if (n != 1) {
                            errors.add("read: " + (n < 0 ? "end of stream" : "timed out"));
                            continue;
                        }
                        buf.flip();
                        c.writeFully(buf);
                    } catch (IOException e) {
                        errors.add(e.getMessage());
                    }
                }
            }
        }

        void stop() throws InterruptedException {
            stopping = true;
            for (Thread t : new ArrayList<>(threads)) {
                t.join(2000);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }

    // ---------------------------------------------------------------- child JVMs

    /**
     * A child JVM running this JAR's {@code Main} (as {@link ChildJvm} does): waits for its {@code READY}
     * line, keeps reading its output (kept for the report), and its standard error goes to a file in the
     * private directory.
     */
    static final class Child {
        private final Process process;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        private final Path errFile;

        private Child(Process process, Path errFile) {
            this.process = process;
            this.errFile = errFile;
        }

        static Child start(BenchRestart owner, Path dir, int n, String... args) throws IOException,
                InterruptedException {
            List<String> cmd = new ArrayList<>();
            cmd.add(ChildJvm.javaBinary());
            if (Runtime.version().feature() >= 22) {
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of(args));
            Path err = dir.resolve("child-" + n + ".err");
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.PIPE).start();
            Child c = new Child(p, err);
            owner.children.add(c);
            CountDownLatch ready = new CountDownLatch(1);
            String[] port = new String[1];
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    int count = 0;
                    while ((line = r.readLine()) != null && count++ < 100_000) {
                        c.lines.add(line);
                        if (line.startsWith("READY ") && port[0] == null) {
                            port[0] = line.substring(6).trim();
                            ready.countDown();
                        }
                    }
                } catch (IOException e) {
                    // the child went away
                }
                ready.countDown();
            }, "child-" + n + "-stdout");
            reader.setDaemon(true);
            reader.start();
            if (!ready.await(30, TimeUnit.SECONDS) || port[0] == null) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException("child JVM " + n + " (" + String.join(" ", args) + ") did not report READY within "
                        + "30 s; exit " + (p.isAlive() ? "-" : p.exitValue()) + "; output: " + c.tail());
            }
            return c;
        }

        long pid() {
            return process.pid();
        }

        boolean saw(String text) {
            synchronized (lines) {
                return lines.stream().anyMatch(l -> l.contains(text)) || errText().contains(text);
            }
        }

        private String errText() {
            try {
                return Files.exists(errFile) ? Files.readString(errFile) : "";
            } catch (IOException e) {
                return "";
            }
        }

        /** WARNING and SEVERE records of the library's loggers (java.util.logging's two-line format), joined. */
        String libraryWarnings() {
            String[] l = errText().split("\n");
            List<String> found = new ArrayList<>();
            for (int i = 0; i + 1 < l.length; i++) {
                if (l[i].contains(" dev.reuseport.") && (l[i + 1].startsWith("WARNING:") || l[i + 1].startsWith("SEVERE:"))) {
                    found.add(l[i + 1].strip());
                }
            }
            return String.join(" | ", found);
        }

        /** The last lines of output and standard error, on one line. */
        String tail() {
            List<String> all;
            synchronized (lines) {
                all = new ArrayList<>(lines);
            }
            for (String l : errText().split("\n")) {
                if (!l.isBlank()) {
                    all.add("[stderr] " + l.strip());
                }
            }
            return String.join(" | ", all.subList(Math.max(0, all.size() - 8), all.size()));
        }

        /** Waits for the process to exit by itself; its status, or MIN_VALUE when it had to be killed. */
        int awaitExit(Duration d) throws InterruptedException {
            if (process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
                return process.exitValue();
            }
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            return Integer.MIN_VALUE;
        }

        /** SIGTERM, then SIGKILL after {@code d}; the exit status. */
        int stop(Duration d) throws InterruptedException {
            if (process.isAlive()) {
                process.destroy();
            }
            if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            return process.isAlive() ? Integer.MIN_VALUE : process.exitValue();
        }
    }

    private void killChildren() {
        List<Child> cs;
        synchronized (children) {
            cs = new ArrayList<>(children);
        }
        for (Child c : cs) {
            if (c.process.isAlive()) {
                c.process.destroyForcibly();
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    // best effort: a temporary directory
                }
            });
        } catch (IOException e) {
            // best effort
        }
    }
}
