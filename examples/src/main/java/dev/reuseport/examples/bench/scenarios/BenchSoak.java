package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Controller;
import dev.reuseport.Policy;
import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.WorkerStats;
import dev.reuseport.examples.bench.harness.ChangeTimeline;
import dev.reuseport.examples.bench.harness.ChangeTimeline.Change;
import dev.reuseport.examples.bench.harness.CheckedTcpServer;
import dev.reuseport.examples.bench.harness.FdCensus;
import dev.reuseport.examples.bench.harness.KernelCounters;
import dev.reuseport.examples.bench.harness.NumberedUdpLoad;
import dev.reuseport.examples.bench.harness.PacedTcpLoad;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.SeqUdpServer;
import dev.reuseport.examples.bench.harness.SoakWire;
import dev.reuseport.examples.bench.harness.WorkerThreads;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench soak}: an 8-worker TCP group and an 8-worker UDP group on 127.0.0.1 under continuous load
 * while, every {@code --interval-ms}, something changes in both groups, cycling through five kinds: a
 * policy switch (round-robin, consistent, sticky, weighted with one weight per slot 0..highest live slot,
 * cpu, kernel-hash), a resize 8 ↔ 6 (added workers are served at once), a {@link Controller} transition (a
 * manual controller per group, candidate round-robin: OBSERVE → SHADOW → ENFORCE → FALLBACK → OBSERVE),
 * {@code replaceWorker(slot)} and {@code restart()} (see {@link Kind} for why in this order). Losses and
 * failures are placed on the change in force when the datagram was sent or the connection began.
 *
 * <p>Load: TCP client threads open a connection per request (16 bytes, half-close, the echo checked
 * byte for byte); UDP sender threads, each with its own sockets (several flows each), send numbered
 * datagrams at a steady, paced rate. The UDP workers do not echo: they only count, marking each
 * (sender, sequence number) in a bitmap, so that every datagram is accounted for exactly once (duplicates
 * are counted apart) and every loss can be placed on the time line of the changes. Echoing would put the
 * senders' own receive queues into the namespace's UDP drop counters.
 *
 * <p>Kernel drops: the network namespace's {@code /proc/net/snmp} {@code Udp: InErrors} delta (it
 * includes {@code RcvbufErrors}); in a private namespace ({@code unshare -n}) the group's sockets are the
 * only UDP receivers, so the delta is exactly the kernel's drops of this run's datagrams. The per-socket
 * SO_MEMINFO drop counters ({@code WorkerStats.drops()}) leave with every socket a restart or resize
 * closes; they are summed as a cross-check (read just before each closing change, hence a lower bound).
 * {@code dgram_lost_unexplained = sent - received - kernel_dropped}, computed after the senders stopped
 * and the receive count stood still.
 *
 * <p>Descriptors: {@code /proc/self/fd} entries, and those linking to {@code anon_inode:bpf-prog} and
 * {@code anon_inode:bpf-map}, before the groups open and after everything (load, workers, controllers,
 * groups) is closed. One DatagramChannel is opened and closed before the first count: the JDK keeps a
 * descriptor of its own for good from its first DatagramChannel on (a half-closed Unix socketpair its
 * dispatcher dup2()s over closing descriptors), which is not the library's.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "TCP and UDP groups under load while policies, controller states, sizes and sockets change "
                + "every interval; counts failed connections, unexplained datagram loss and leaked descriptors "
                + "(run inside unshare -n).")
public final class BenchSoak implements Callable<Integer> {
    static final int WORKERS = 8;
    static final int RESIZED = 6;
    static final int TCP_CLIENTS = PacedTcpLoad.CLIENTS;
    static final int UDP_SENDERS = NumberedUdpLoad.SENDERS;
    static final int FLOWS_PER_SENDER = NumberedUdpLoad.FLOWS_PER_SENDER;
    static final int PAYLOAD = SoakWire.PAYLOAD;
    static final int UDP_RECEIVE_BUFFER = 4 << 20;
    static final List<String> UDP_KEYS = List.of("Udp.InDatagrams", "Udp.InErrors", "Udp.RcvbufErrors",
            "Udp.NoPorts", "Udp.OutDatagrams", "Udp.SndbufErrors", "Udp.InCsumErrors", "Udp.MemErrors");
    static final List<String> TCP_KEYS = List.of("TcpExt.TCPMigrateReqSuccess", "TcpExt.TCPMigrateReqFailure",
            "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "Tcp.AttemptFails", "Tcp.EstabResets", "Tcp.OutRsts");
    static final String[] POLICIES = {"round-robin", "consistent", "sticky", "weighted", "cpu", "kernel-hash"};
    static final Controller.State[] STATES = {Controller.State.SHADOW, Controller.State.ENFORCE,
        Controller.State.FALLBACK, Controller.State.OBSERVE};

    /**
     * The five kinds of change, in the order they take turns. The resize comes right after the policy switch
     * and before the controller transition: a transition sets the steering itself (the kernel hash in
     * SHADOW, FALLBACK and OBSERVE, the candidate in ENFORCE), and its 4-state cycle would otherwise meet the
     * resize's 2-step cycle (8 -> 6, 6 -> 8) always in the same phase, so that a shrink would only ever run
     * under the kernel hash. The policy index shifts by one every six policy switches, so that in 12 rounds
     * each policy meets both resize directions; replace and restart meet both the kernel hash and a table.
     */
    enum Kind {
        POLICY("policy"), RESIZE("resize"), CONTROLLER("controller"), REPLACE("replace"), RESTART("restart");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--seconds", defaultValue = "60", description = "how long the changes run (default ${DEFAULT-VALUE})")
    int seconds;

    @Option(names = "--interval-ms", defaultValue = "100", description = "one change every this many ms "
            + "(default ${DEFAULT-VALUE})")
    int intervalMs;

    @Option(names = "--udp-rate", defaultValue = "8000", description = "datagrams per second over all "
            + UDP_SENDERS + " senders, paced (default ${DEFAULT-VALUE})")
    int udpRate;

    @Option(names = "--tcp-rate", defaultValue = "2000", description = "connections per second over all "
            + TCP_CLIENTS + " clients, paced (default ${DEFAULT-VALUE})")
    int tcpRate;

    @Option(names = "--kinds", split = ",", hidden = true, defaultValue = "policy,resize,controller,replace,restart",
            description = "diagnostics: the change kinds to cycle through, in the fixed order (default all)")
    List<String> kinds;

    @Option(names = "--policies", split = ",", hidden = true,
            defaultValue = "round-robin,consistent,sticky,weighted,cpu,kernel-hash",
            description = "diagnostics: the policies the policy switches cycle through (default all six)")
    List<String> policies;

    @Option(names = "--resize-to", hidden = true, defaultValue = "" + RESIZED,
            description = "diagnostics: the size the resizes alternate with 8 (default ${DEFAULT-VALUE})")
    int resizeTo;

    private final List<Kind> order = new ArrayList<>();

    private PrintWriter out;
    private Progress progress;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        progress = new Progress(spec.commandLine().getErr(), "soak");
        check("--seconds", seconds, 1, 3600);
        check("--interval-ms", intervalMs, 1, 60_000);
        check("--udp-rate", udpRate, 1, 200_000);
        check("--tcp-rate", tcpRate, 1, 50_000);
        check("--resize-to", resizeTo, 1, WORKERS - 1);
        for (Kind k : Kind.values()) {
            if (kinds.contains(k.label)) {
                order.add(k);
            }
        }
        for (String k : kinds) {
            if (order.stream().noneMatch(o -> o.label.equals(k))) {
                throw new ParameterException(spec.commandLine(), "--kinds: '" + k + "' is not a kind; accepted: "
                        + "policy, resize, controller, replace, restart");
            }
        }
        for (String p : policies) {
            if (!Arrays.asList(POLICIES).contains(p)) {
                throw new ParameterException(spec.commandLine(), "--policies: '" + p + "' is not one of "
                        + Arrays.toString(POLICIES));
            }
        }
        if (order.isEmpty() || policies.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--kinds and --policies need at least one value each");
        }
        String refusal = prepareNetwork();
        if (refusal != null) {
            spec.commandLine().getErr().println("bench soak: " + refusal);
            return 2;
        }
        InetAddress lo = InetAddress.getByName("127.0.0.1");

        // The JDK opens one descriptor of its own, for good, on the first DatagramChannel (the half-closed
        // socketpair its dispatcher dup2()s over closing descriptors): open and close one first, so that the
        // delta below counts only what the groups, controllers and load leave behind.
        try (DatagramChannel warm = DatagramChannel.open()) {
            warm.bind(new InetSocketAddress(lo, 0));
        }
        FdCensus fdsBefore = FdCensus.now();
        Map<String, Long> k0 = KernelCounters.read();
        Run run = new Run(lo);
        try {
            run.execute();
        } finally {
            run.closeAll();
        }
        Map<String, Long> k1 = KernelCounters.read();
        FdCensus fdsAfter = FdCensus.now();
        report(run, fdsBefore, fdsAfter, k0, k1);
        return 0;
    }

    private void check(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new ParameterException(spec.commandLine(), name + " " + value + " is out of range; accepted: "
                    + min + ".." + max);
        }
    }

    /** Brings lo up when it is down and says which namespace this is; a refusal, or null to go on. */
    private String prepareNetwork() throws IOException, InterruptedException {
        boolean[] down = new boolean[1];
        String refusal = KernelCounters.loopbackUp(out, down);
        if (refusal != null) {
            return refusal;
        }
        boolean wasDown = down[0];
        String self = KernelCounters.link("/proc/self/ns/net");
        String init = KernelCounters.link("/proc/1/ns/net");
        boolean hostNs = self != null && self.equals(init);
        out.printf("network namespace %s%s%n", self, hostNs
                ? ": the same as pid 1's; other processes' UDP drops would count in the Udp: InErrors delta (run "
                + "inside unshare -n for exact figures)"
                : wasDown ? " (private: lo was down, so nothing else uses it)" : " (not pid 1's)");
        return null;
    }

    // ---------------------------------------------------------------- the run

    /** Everything one soak opens, and what it counted. */
    final class Run {
        final InetAddress lo;
        ReuseportGroup tcp;
        ReuseportGroup udp;
        Controller tcpController;
        Controller udpController;
        CheckedTcpServer tcpServer;
        SeqUdpServer udpServer;
        PacedTcpLoad tcpLoad;
        NumberedUdpLoad udpLoad;
        final List<Change> changes = new ArrayList<>();
        final List<String> notes = Collections.synchronizedList(new ArrayList<>());
        long retiredSocketDrops;
        long liveSocketDrops;
        long udpInErrors0;
        long udpInErrors1;
        long settleMillis;
        long start;
        long changesEnd;

        Run(InetAddress lo) {
            this.lo = lo;
        }

        void execute() throws Exception {
            long maxSeq = (long) Math.ceil((double) udpRate / UDP_SENDERS * (seconds + 10)) + 1000;
            tcp = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).open();
            udp = ReuseportGroup.udp().address(lo).port(0).workers(WORKERS).receiveBuffer(UDP_RECEIVE_BUFFER).open();
            Controller.Settings manual = new Controller.Settings(Duration.ofSeconds(1), 3, 1.5, 0.8, 10, 2.0, 5,
                    Duration.ZERO, false);
            tcpController = Controller.manual(tcp, Policy.roundRobin(), manual);
            udpController = Controller.manual(udp, Policy.roundRobin(), manual);
            tcpServer = new CheckedTcpServer(tcp);
            udpServer = new SeqUdpServer(udp, UDP_SENDERS, maxSeq);
            out.printf("TCP group %s, %d workers, steering: %s (%s)%n", ReuseportGroupFormat.of(tcp), WORKERS,
                    tcp.capabilities().steering(), tcp.capabilities().steeringReason());
            out.printf("UDP group %s, %d workers, SO_RCVBUF asked %d (kernel caps at net.core.rmem_max), steering: %s%n",
                    ReuseportGroupFormat.of(udp), WORKERS, UDP_RECEIVE_BUFFER, udp.capabilities().steering());
            out.printf("load: %d TCP clients, %d connections/s in all (a connection per request, %d bytes, echo "
                    + "checked); %d UDP senders x %d flows, %d datagrams/s in all, paced, numbered; UDP workers count, "
                    + "no echo%n", TCP_CLIENTS, tcpRate, PAYLOAD, UDP_SENDERS, FLOWS_PER_SENDER, udpRate);
            out.printf("changes: every %d ms for %d s, cycling %s (policies %s); each applied to both groups%n",
                    intervalMs, seconds, order.stream().map(k -> k.label).collect(java.util.stream.Collectors.joining(
                            ", ")), String.join(", ", policies));
            out.flush();

            udpInErrors0 = udpCounter("Udp.InErrors");
            long hardDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds + 120L);
            tcpLoad = new PacedTcpLoad(tcp.localAddress(), tcpRate, hardDeadline);
            udpLoad = new NumberedUdpLoad(udp.localAddress(), udpRate, maxSeq, hardDeadline, lo);
            tcpLoad.start();
            udpLoad.start();
            start = System.nanoTime();
            Thread.sleep(Math.min(500, intervalMs * 5L)); // load before the first change
            changeLoop();
            changesEnd = System.nanoTime();
            Thread.sleep(Math.min(500, intervalMs * 5L)); // load after the last change

            udpLoad.stop();
            tcpLoad.stop();
            // datagrams still queued: wait until the receive count stands still for 500 ms (at most 15 s)
            long t0 = System.nanoTime();
            long last = udpServer.receivedTotal();
            long stillSince = System.nanoTime();
            while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15)) {
                Thread.sleep(50);
                long now = udpServer.receivedTotal();
                if (now != last) {
                    last = now;
                    stillSince = System.nanoTime();
                } else if (System.nanoTime() - stillSince >= TimeUnit.MILLISECONDS.toNanos(500)) {
                    break;
                }
            }
            settleMillis = (System.nanoTime() - t0) / 1_000_000;
            udpInErrors1 = udpCounter("Udp.InErrors");
            for (WorkerStats s : udp.stats()) {
                liveSocketDrops += s.drops();
            }
        }

        private void changeLoop() throws InterruptedException {
            long interval = TimeUnit.MILLISECONDS.toNanos(intervalMs);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long next = System.nanoTime();
            int[] sub = new int[Kind.values().length];
            int size = WORKERS;
            progress.phase("changes every " + intervalMs + " ms for " + seconds + " s");
            for (int i = 0; i < 10_000_000; i++) {
                progress.tick(() -> changes.size() + " changes (" + changes.stream().filter(Change::failed).count()
                        + " failed), " + tcpLoad.failed.sum() + " of " + tcpLoad.attempted.sum() + " connections failed");
                long now = System.nanoTime();
                if (next > now) {
                    LockSupport.parkNanos(next - now);
                }
                if (System.nanoTime() >= deadline) {
                    break;
                }
                // fixed rate without debt: a late change does not make the next ones come sooner
                next = Math.max(next + interval, System.nanoTime());
                Kind kind = order.get(i % order.size());
                int n = sub[kind.ordinal()]++;
                String detail;
                switch (kind) {
                    case POLICY -> detail = "policy " + policyName(n);
                    case CONTROLLER -> {
                        Controller.State from = STATES[(n + STATES.length - 1) % STATES.length];
                        detail = "controller " + from + "->" + STATES[n % STATES.length];
                    }
                    case RESIZE -> {
                        int to = size == WORKERS ? resizeTo : WORKERS;
                        detail = "resize " + size + "->" + to;
                        size = to;
                    }
                    case REPLACE -> detail = "replaceWorker";
                    default -> detail = "restart";
                }
                if (kind == Kind.RESIZE || kind == Kind.REPLACE || kind == Kind.RESTART) {
                    // where sockets close, say how the UDP group steered: the kernel hash, or a BPF table
                    detail += udp.policy() instanceof Policy.KernelHash ? " [UDP on kernel hash]" : " [UDP on table]";
                }
                Change c = new Change(i, kind.label, detail, describe(tcp), describe(udp), udpLoad.seqs());
                c.udpInErrorsAtStart = udpCounter("Udp.InErrors");
                c.start = System.nanoTime();
                c.tcpError = apply(tcp, tcpController, tcpServer, kind, n, c);
                long mid = System.nanoTime();
                c.udpError = apply(udp, udpController, udpServer, kind, n, c);
                c.end = System.nanoTime();
                c.tcpNanos = mid - c.start;
                c.udpNanos = c.end - mid;
                c.seqAtEnd = udpLoad.seqs();
                changes.add(c);
            }
        }

        /** Applies one change to one group; null, or what went wrong. */
        private String apply(ReuseportGroup g, Controller ctl, WorkerThreads server, Kind kind, int n, Change c) {
            try {
                switch (kind) {
                    case POLICY -> {
                        String name = policyName(n);
                        Policy p;
                        if (name.equals("weighted")) {
                            int[] slots = g.slots();
                            int[] w = new int[slots[slots.length - 1] + 1]; // one per slot 0..highest live slot
                            for (int s = 0; s < w.length; s++) {
                                w[s] = 1 + s % 4;
                            }
                            p = Policy.weighted(w);
                        } else {
                            p = Policy.parse(name);
                        }
                        String steering = g.policy(p).steering();
                        boolean wanted = p instanceof Policy.KernelHash ? steering.equals("kernel hash")
                                : steering.startsWith("bpf");
                        if (!wanted) {
                            return "policy " + p.spec() + " not in force: " + g.capabilities().steeringReason();
                        }
                    }
                    case CONTROLLER -> ctl.to(STATES[n % STATES.length], "bench soak");
                    case RESIZE -> {
                        int to = g.workers().size() == WORKERS ? resizeTo : WORKERS;
                        if (g.protocol() == Protocol.UDP && to < g.workers().size()) {
                            List<Worker> live = g.workers();
                            retiredSocketDrops += dropsOf(live.subList(to, live.size()));
                        }
                        List<Worker> added = g.resize(to);
                        server.serve(added);
                        if (g.workers().size() != to) {
                            return "resize(" + to + ") left " + g.workers().size() + " workers";
                        }
                    }
                    case REPLACE -> {
                        int[] slots = g.slots();
                        int slot = slots[n % slots.length];
                        if (g.protocol() == Protocol.UDP) {
                            retiredSocketDrops += dropsOf(List.of(g.worker(slot)));
                        }
                        g.replaceWorker(slot);
                    }
                    default -> {
                        if (g.protocol() == Protocol.UDP) {
                            retiredSocketDrops += dropsOf(g.workers());
                        }
                        g.restart();
                    }
                }
                return null;
            } catch (Exception | Error e) {
                String s = e.toString();
                notes.add(String.format(Locale.ROOT, "change %d (%s) on %s failed: %s", c.index + 1, c.detail,
                        g.protocol(), s));
                return s;
            }
        }

        private long dropsOf(List<Worker> ws) {
            long d = 0;
            for (Worker w : ws) {
                try {
                    d += w.stats().drops();
                } catch (IOException e) {
                    // the socket is gone already: its counter with it
                }
            }
            return d;
        }

        /** Closes load, workers, controllers and groups (each step bounded; every failure noted). */
        void closeAll() {
            if (udpLoad != null) {
                udpLoad.stop();
            }
            if (tcpLoad != null) {
                tcpLoad.stop();
            }
            if (tcpServer != null) {
                tcpServer.stop();
            }
            if (udpServer != null) {
                udpServer.stop();
            }
            for (Controller c : Arrays.asList(tcpController, udpController)) {
                if (c != null) {
                    c.close();
                }
            }
            for (ReuseportGroup g : Arrays.asList(tcp, udp)) {
                if (g != null) {
                    try {
                        g.close();
                    } catch (IOException e) {
                        notes.add("closing " + g + ": " + e);
                    }
                }
            }
            if (udpLoad != null) {
                udpLoad.closeChannels();
            }
        }
    }

    /** The policy of the {@code n}-th policy switch: the list in turn, shifted by one every full turn. */
    String policyName(int n) {
        return policies.get((n + n / policies.size()) % policies.size());
    }

    /** The group's policy and control state, for the change log. */
    private static String describe(ReuseportGroup g) {
        return g.policy().spec() + "/" + g.controlState();
    }

    /** A group's address as text. */
    static final class ReuseportGroupFormat {
        private ReuseportGroupFormat() {
        }

        static String of(ReuseportGroup g) {
            InetSocketAddress a = g.localAddress();
            return a.getAddress().getHostAddress() + ":" + a.getPort();
        }
    }

    static long udpCounter(String key) {
        return KernelCounters.read().getOrDefault(key, 0L);
    }

    // ---------------------------------------------------------------- servers

    // ---------------------------------------------------------------- load

    // ---------------------------------------------------------------- descriptors

    // ---------------------------------------------------------------- report

    private void report(Run run, FdCensus before, FdCensus after, Map<String, Long> k0, Map<String, Long> k1) {
        List<Change> cs = run.changes;
        long connTotal = run.tcpLoad == null ? 0 : run.tcpLoad.attempted.sum();
        long connOk = run.tcpLoad == null ? 0 : run.tcpLoad.completed.sum();
        long connFailed = run.tcpLoad == null ? 0 : run.tcpLoad.failed.sum();
        long sent = run.udpLoad == null ? 0 : run.udpLoad.sent();
        long received = run.udpServer == null ? 0 : run.udpServer.received.sum();
        long kernelDropped = run.udpInErrors1 - run.udpInErrors0;
        long unexplained = sent - received - kernelDropped;

        // which datagrams are missing, placed on the change time line
        Map<Integer, Long> lostAfter = new TreeMap<>();
        List<String> lostExamples = new ArrayList<>();
        long missing = 0;
        if (run.udpLoad != null && run.udpServer != null) {
            long[] sentPer = run.udpLoad.seqs();
            for (int s = 0; s < sentPer.length; s++) {
                for (long q = 0; q < sentPer[s]; q++) {
                    if (!run.udpServer.seen(s, q)) {
                        missing++;
                        int ci = ChangeTimeline.changeOfSeq(cs, s, q);
                        lostAfter.merge(ci, 1L, Long::sum);
                        if (lostExamples.size() < 12) {
                            lostExamples.add(ChangeTimeline.describeLoss(cs, ci, s, q));
                        }
                    }
                }
            }
        }
        // TCP failures, placed on the same time line
        Map<Integer, Long> failedAfter = new TreeMap<>();
        if (run.tcpLoad != null) {
            for (PacedTcpLoad.Failure f : run.tcpLoad.failures) {
                failedAfter.merge(ChangeTimeline.changeAt(cs, f.started()), 1L, Long::sum);
            }
        }
        // kernel drops per change (from its start to the next change's start)
        Map<Integer, Long> dropsAfter = new TreeMap<>();
        for (int i = 0; i < cs.size(); i++) {
            long until = i + 1 < cs.size() ? cs.get(i + 1).udpInErrorsAtStart : run.udpInErrors1;
            long d = until - cs.get(i).udpInErrorsAtStart;
            if (d != 0) {
                dropsAfter.put(i, d);
            }
        }
        long dropsBeforeFirst = cs.isEmpty() ? kernelDropped : cs.get(0).udpInErrorsAtStart - run.udpInErrors0;

        out.println();
        out.println("per change kind (each change applied to the TCP group, then the UDP group); failures and losses "
                + "are placed on the change in force when the connection began / the datagram was sent:");
        out.printf("%-11s %8s %8s %9s %9s %10s %11s %12s%n", "kind", "changes", "failed", "median_ms", "max_ms",
                "conn_fail", "dgram_lost", "kernel_drop");
        for (Kind k : Kind.values()) {
            ChangeTimeline.row(out, k.label, cs, c -> c.kind.equals(k.label), failedAfter, lostAfter, dropsAfter);
        }
        ChangeTimeline.row(out, "all", cs, c -> true, failedAfter, lostAfter, dropsAfter);
        out.printf("%-11s %8s %8s %9s %9s %10d %11d %12d%n", "(before 1st)", "", "", "", "",
                failedAfter.getOrDefault(-1, 0L), lostAfter.getOrDefault(-1, 0L), dropsBeforeFirst);

        out.println();
        out.println("per change detail (tcp_ms, udp_ms: median time the change took on each group; max_ms: both):");
        out.printf("%-40s %8s %8s %9s %9s %9s %10s %11s %12s%n", "change", "changes", "failed", "tcp_ms",
                "udp_ms", "max_ms", "conn_fail", "dgram_lost", "kernel_drop");
        Map<String, List<Change>> byDetail = new LinkedHashMap<>();
        for (Kind k : Kind.values()) {
            for (Change c : cs) {
                if (c.kind.equals(k.label)) {
                    byDetail.computeIfAbsent(c.detail, d -> new ArrayList<>()).add(c);
                }
            }
        }
        for (Map.Entry<String, List<Change>> e : byDetail.entrySet()) {
            String d = e.getKey();
            ChangeTimeline.rowWide(out, d, cs, c -> c.detail.equals(d), failedAfter, lostAfter, dropsAfter);
        }

        out.println();
        double secs = run.changesEnd > run.start ? (run.changesEnd - run.start) / 1e9 : 0;
        out.printf(Locale.ROOT, "changes: %d in %.1f s (%d failed)%n", cs.size(), secs,
                cs.stream().filter(Change::failed).count());
        out.printf("TCP: %d connections attempted, %d completed, %d failed%n", connTotal, connOk, connFailed);
        if (run.tcpLoad != null && connFailed > 0) {
            out.println("  client failures by cause:");
            run.tcpLoad.reasonSnapshot().forEach((k, v) -> out.printf("    %6d  %s%n", v, k));
            List<PacedTcpLoad.Failure> fs = new ArrayList<>(run.tcpLoad.failures);
            fs.sort((a, b) -> Long.compare(a.started(), b.started()));
            for (PacedTcpLoad.Failure f : fs.subList(0, Math.min(8, fs.size()))) {
                int ci = ChangeTimeline.changeAt(cs, f.started());
                out.printf(Locale.ROOT, "    began %s; seen %.1f ms later: %s%n", ChangeTimeline.where(cs, ci, f.started()),
                        (f.seen() - f.started()) / 1e6, f.reason());
            }
        }
        if (run.tcpServer != null && !run.tcpServer.errorSnapshot().isEmpty()) {
            out.println("  TCP server-side errors: " + run.tcpServer.errorSnapshot());
        }
        out.printf("UDP: %d datagrams sent, %d received (unique), %d duplicates, %d malformed, %d send failures; "
                        + "receive count stood still after %d ms%n", sent, received,
                run.udpServer == null ? 0 : run.udpServer.duplicates.sum(),
                run.udpServer == null ? 0 : run.udpServer.malformed.sum(),
                run.udpLoad == null ? 0 : run.udpLoad.sendFailed.sum(), run.settleMillis);
        if (run.udpLoad != null && !run.udpLoad.sendErrors.isEmpty()) {
            run.udpLoad.sendErrors.forEach((k, v) -> out.printf("    send failure %6d  %s%n", v.sum(), k));
        }
        out.printf("  dropped by the kernel: %d (namespace /proc/net/snmp Udp: InErrors delta); per-socket SO_MEMINFO "
                        + "drops: %d (%d read from sockets just before changes closed them + %d on the live sockets; a "
                        + "lower bound)%n", kernelDropped, run.retiredSocketDrops + run.liveSocketDrops,
                run.retiredSocketDrops, run.liveSocketDrops);
        out.printf("  missing by sequence number: %d; sent - received - kernel_dropped = %d%n", missing, unexplained);
        if (!lostExamples.isEmpty()) {
            out.println("  first missing datagrams:");
            lostExamples.forEach(s -> out.println("    " + s));
        }
        if (run.udpServer != null && !run.udpServer.errorSnapshot().isEmpty()) {
            out.println("  UDP server-side errors: " + run.udpServer.errorSnapshot());
        }
        StringBuilder kc = new StringBuilder();
        for (String k : java.util.stream.Stream.concat(UDP_KEYS.stream(), TCP_KEYS.stream()).toList()) {
            if (k0.containsKey(k) && k1.containsKey(k)) {
                kc.append(kc.length() == 0 ? "" : ", ").append(k).append(' ').append(k1.get(k) - k0.get(k));
            }
        }
        out.println("kernel counters (this namespace, whole run): " + kc);
        out.printf("descriptors: before %d (bpf-prog %d, bpf-map %d), after %d (bpf-prog %d, bpf-map %d)%n",
                before.total(), before.progs(), before.maps(), after.total(), after.progs(), after.maps());
        if (!before.byKind().equals(after.byKind())) {
            out.println("  by kind before: " + before.byKind());
            out.println("  by kind after:  " + after.byKind());
        }
        synchronized (run.notes) {
            if (!run.notes.isEmpty()) {
                out.println("notes (" + run.notes.size() + "):");
                run.notes.stream().limit(20).forEach(n -> out.println("  " + n));
            }
        }
        boolean pass = connFailed == 0 && unexplained == 0 && after.total() == before.total()
                && after.progs() == before.progs() && after.maps() == before.maps()
                && cs.size() >= Math.min(500, (long) seconds * 1000 / intervalMs * 5 / 6)
                && cs.stream().noneMatch(Change::failed);
        out.println((pass ? "PASS" : "FAIL") + ": " + connFailed + " connections failed, " + unexplained
                + " datagrams lost unexplained, descriptor deltas " + (after.total() - before.total()) + "/"
                + (after.progs() - before.progs()) + "/" + (after.maps() - before.maps()) + ", " + cs.size()
                + " changes (" + cs.stream().filter(Change::failed).count() + " failed)");
        new Result("soak").put("conn_total", connTotal).put("conn_failed", connFailed)
                .put("dgram_lost_unexplained", unexplained).put("fd_delta", after.total() - before.total())
                .put("bpf_prog_delta", after.progs() - before.progs()).put("bpf_map_delta", after.maps() - before.maps())
                .put("changes", cs.size()).print(out);
    }

}
