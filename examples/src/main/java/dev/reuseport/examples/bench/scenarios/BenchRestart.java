package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.examples.bench.harness.ConnLoad;
import dev.reuseport.examples.bench.harness.KernelCounters;
import dev.reuseport.examples.bench.harness.LoadedPhase;
import dev.reuseport.examples.bench.harness.NaiveServer;
import dev.reuseport.examples.bench.harness.OneByteEcho;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.ServingChild;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench restart}: connections lost while the listening sockets change under load. The same load
 * (8 client threads, a new connection per request) runs against 8 workers in four phases, one after the
 * other: a naive restart on raw SO_REUSEPORT listeners with no BPF program (open 8 new, swap them in,
 * close the old 8), the library's in-process socket generation swap ({@link ReuseportGroup#restart()}), its
 * resize 8 → 4 → 8, and cross-process hand-offs between child JVMs running {@code echo --serve}. Meant to
 * run in a private network namespace ({@code unshare -n}); net.ipv4.tcp_migrate_req must be 0 there (it
 * is only read, never written), so that only the library's select-or-migrate program can save the
 * requests queued on a closing listener.
 */
@Command(name = "restart", mixinStandardHelpOptions = true,
        description = "Connections lost across restarts: naive kernel restart vs the library's swap, resize and "
                + "hand-off, under the same load (run inside unshare -n).")
public final class BenchRestart implements Callable<Integer> {
    static final int WORKERS = NaiveServer.WORKERS;
    static final int BACKLOG = NaiveServer.BACKLOG;
    /** The hand-off phase's budget: its every operation starts a JVM. */
    static final long HANDOFF_BUDGET_MILLIS = 120_000;
    static final String MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req";

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

    private final List<ServingChild> children = Collections.synchronizedList(new ArrayList<>());
    private Progress progress;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        progress = new Progress(err, "restart");
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
                ConnLoad.CLIENTS, ConnLoad.TIMEOUT_MILLIS, WORKERS);
        out.flush();
        List<LoadedPhase> phases = new ArrayList<>();
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
        for (LoadedPhase p : phases) {
            out.printf("%-8s %-34s %10d %12d %8d %9.4f%%%n", p.name, p.what, p.ops, p.total(), p.failed(),
                    p.total() == 0 ? 0.0 : 100.0 * p.failed() / p.total());
        }
        out.println();
        for (LoadedPhase p : phases) {
            p.report(out);
        }
        LoadedPhase k = phases.get(0);
        LoadedPhase s = phases.get(1);
        LoadedPhase r = phases.get(2);
        LoadedPhase h = phases.get(3);
        boolean pass = k.failed() > 0 && s.failed() == 0 && r.failed() == 0 && h.failed() == 0
                && s.complete() && r.complete() && h.complete() && s.total() > 0 && r.total() > 0
                && (handoffs == 0 || h.total() > 0);
        out.println((pass ? "PASS" : "FAIL") + ": kernel baseline lost " + k.failed() + " connections; the library lost "
                + s.failed() + " (swap), " + r.failed() + " (resize), " + h.failed() + " (hand-off)"
                + (s.complete() && r.complete() && h.complete() ? "" : "; some operations did not complete, see above"));
        new Result("restart").put("kernel_failed", k.failed()).put("kernel_total", k.total())
                .put("swap_failed", s.failed()).put("swap_total", s.total()).put("resize_failed", r.failed())
                .put("resize_total", r.total()).put("handoff_failed", h.failed()).put("handoff_total", h.total())
                .print(out);
        return 0;
    }

    private void check(String name, int value, int max) {
        if (value < 0 || value > max) {
            throw new ParameterException(spec.commandLine(), name + " " + value + " is out of range; accepted: 0.." + max);
        }
    }

    /** Brings lo up when it is down and reads tcp_migrate_req; a refusal message, or null to go on. */
    private static String prepareNetwork(PrintWriter out) throws IOException, InterruptedException {
        String refusal = KernelCounters.loopbackUp(out, new boolean[1]);
        if (refusal != null) {
            return refusal;
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

    private LoadedPhase kernelPhase(PrintWriter out, InetAddress lo) throws Exception {
        LoadedPhase p = new LoadedPhase("kernel", "naive restart (raw fds, no BPF)", restarts);
        try (NaiveServer server = new NaiveServer(lo)) {
            p.notes.add("8 raw listeners (SO_REUSEPORT, bind, listen " + BACKLOG + "), no BPF program; a restart "
                    + "opens 8 new ones, swaps them into the worker slots and closes the old 8 without draining");
            LoadedPhase.drive(out, progress, p, server.address(), false, i -> server.restart(), 20, 50);
            p.serverErrors.putAll(server.errors.snapshot());
        }
        return p;
    }

    private LoadedPhase swapPhase(PrintWriter out, InetAddress lo) throws Exception {
        LoadedPhase p = new LoadedPhase("swap", "group.restart()", restarts);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).backlog(BACKLOG).open();
             OneByteEcho server = new OneByteEcho(g)) {
            p.notes.add("steering: " + g.capabilities().steering() + " (" + g.capabilities().steeringReason() + ")");
            LoadedPhase.drive(out, progress, p, g.localAddress(), false, i -> g.restart(), 20, 50);
            p.notes.add("group.restarts() = " + g.restarts() + ", table version " + g.tableVersion());
            server.stop();
            p.serverErrors.putAll(server.errors.snapshot());
        }
        return p;
    }

    private LoadedPhase resizePhase(PrintWriter out, InetAddress lo) throws Exception {
        LoadedPhase p = new LoadedPhase("resize", "group.resize(4) / resize(8)", resizes);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).backlog(BACKLOG).open();
             OneByteEcho server = new OneByteEcho(g)) {
            p.notes.add("steering: " + g.capabilities().steering() + " (" + g.capabilities().steeringReason() + ")");
            LoadedPhase.drive(out, progress, p, g.localAddress(), false, i -> {
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

    private LoadedPhase handoffPhase(PrintWriter out, InetAddress lo) throws Exception {
        LoadedPhase p = new LoadedPhase("handoff", "echo --serve --take-over (new JVM)", handoffs);
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
        ServingChild[] current = new ServingChild[1];
        try {
            current[0] = ServingChild.start(children, dir, 0, "echo", "--serve", "--protocol", "tcp", "--address",
                    lo.getHostAddress(), "--port", Integer.toString(port), "--workers", Integer.toString(WORKERS),
                    "--control", ctl.toString(), "--drain-seconds", "10");
            p.notes.add("generation 0: pid " + current[0].pid() + " serving 127.0.0.1:" + port + ", control socket "
                    + ctl + " (directory mode 0700)");
            LoadedPhase.drive(out, progress, p, new InetSocketAddress(lo, port), true, i -> {
                ServingChild prev = current[0];
                long t0 = System.nanoTime();
                ServingChild next = ServingChild.start(children, dir, i + 1, "echo", "--serve", "--protocol", "tcp", "--address",
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

    // ---------------------------------------------------------------- results

    // ---------------------------------------------------------------- load

    // ---------------------------------------------------------------- child JVMs

    private void killChildren() {
        List<ServingChild> cs;
        synchronized (children) {
            cs = new ArrayList<>(children);
        }
        cs.forEach(ServingChild::kill);
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
