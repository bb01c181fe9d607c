package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.examples.LoadGenerator;
import dev.reuseport.examples.bench.harness.AcceptCounter;
import dev.reuseport.examples.bench.harness.Alternating;
import dev.reuseport.examples.bench.harness.CpuSample;
import dev.reuseport.examples.bench.harness.Flows;
import dev.reuseport.examples.bench.harness.FlowsMoved;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Spread;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.examples.bench.harness.Steering;
import dev.reuseport.examples.bench.harness.Timing;
import dev.reuseport.examples.bench.harness.UdpSink;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench balance}: how evenly each steering policy spreads the same traffic over 8 workers, side by
 * side with the kernel's own hash; how many flows move when one worker leaves; and what the attached
 * program costs in throughput.
 *
 * <p>Every count is what the worker threads of this JVM actually accepted or received (the steering
 * program's counters are printed only as a cross-check). Servers and clients run in this one JVM over
 * 127.0.0.1. Kernel-hash groups are opened without any program (not even the pass-mode migrate program
 * TCP groups get by default), so "kernel" means the kernel hash alone. Each balance and moved run uses a
 * fresh group; UDP senders pace themselves on what the workers received, so no datagram meets a full
 * receive buffer (lost datagrams are reported). Alternating: two groups side by side, the kernel hash and
 * the consistent policy, measured in alternating rounds (kernel, program, kernel, ...); a pair in which
 * other processes took more than {@code --max-others}% of the CPUs is shown marked, left out of the
 * medians and run again (bounded); the ratio is median(program) / median(kernel).
 */
@Command(name = "balance", mixinStandardHelpOptions = true,
        description = "Balance (max/mean) per policy vs the kernel hash, flows moved when a worker leaves, "
                + "and the attached program's throughput cost (alternating rounds).")
public final class BenchBalance implements Callable<Integer> {
    private static final int WORKERS = 8;
    private static final int LEAVER = 3;
    private static final int[] WEIGHTS = {1, 1, 2, 2, 4, 4, 8, 8};

    @Spec
    CommandSpec spec;

    @Option(names = "--only", split = ",", defaultValue = "balance,moved,conn,udp",
            description = "parts to run: balance, moved, conn, udp (default ${DEFAULT-VALUE}); figures of parts "
                    + "not run are n/a")
    List<String> only;

    @Option(names = "--vs", defaultValue = "consistent", hidden = true,
            description = "diagnostics: the policy set against the kernel hash in the throughput rounds (a policy "
                    + "spec, or 'pass': the program attached in pass mode); the RESULT keys keep their names")
    String vs;

    @Option(names = "--rounds", defaultValue = "7",
            description = "throughput rounds per variant, alternating kernel/bpf (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "2", description = "measured seconds per throughput round (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "0.5", description = "warm-up seconds per throughput round (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--connections", defaultValue = "8192", description = "TCP connections per balance run (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--flows", defaultValue = "4096", description = "UDP flows per balance / moved run (default ${DEFAULT-VALUE})")
    int flows;

    @Option(names = "--heavy-flows", defaultValue = "4", description = "heavy UDP senders (default ${DEFAULT-VALUE})")
    int heavyFlows;

    @Option(names = "--heavy-datagrams", defaultValue = "200", description = "datagrams per heavy sender (default ${DEFAULT-VALUE})")
    int heavyDatagrams;

    @Option(names = "--clients", defaultValue = "8", description = "TCP client threads in throughput rounds (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--udp-senders", defaultValue = "4", description = "UDP sender threads in throughput rounds (default ${DEFAULT-VALUE})")
    int udpSenders;

    @Option(names = "--udp-flows-per-sender", defaultValue = "64",
            description = "sockets (flows) per UDP sender thread, used in turn (default ${DEFAULT-VALUE})")
    int udpFlowsPerSender;

    @Option(names = "--burst", defaultValue = "16", description = "datagrams per burst on one flow (default ${DEFAULT-VALUE})")
    int burst;

    @Option(names = "--window", defaultValue = "512",
            description = "datagrams a UDP sender may have sent but not yet seen received (default ${DEFAULT-VALUE})")
    int window;

    @Option(names = "--max-others", defaultValue = "10",
            description = "a throughput pair in which other processes used more than this %% of the CPUs is marked, "
                    + "left out of the medians and run again (default ${DEFAULT-VALUE})")
    double maxOthers;

    @Option(names = "--extra-rounds", defaultValue = "4",
            description = "at most this many re-runs of disturbed pairs per throughput test (default ${DEFAULT-VALUE})")
    int extraRounds;

    @Option(names = "--receive-buffer", defaultValue = "4194304",
            description = "SO_RCVBUF of every UDP worker in bytes; the kernel caps it at net.core.rmem_max "
                    + "(default ${DEFAULT-VALUE})")
    int receiveBuffer;

    private PrintWriter out;
    private final InetAddress lo = InetAddress.getLoopbackAddress();
    private final List<String> notes = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr(), "balance");
        long started = System.nanoTime();
        if (burst > window) {
            throw new IllegalArgumentException("--burst " + burst + " exceeds --window " + window);
        }
        try (ReuseportGroup probe = ReuseportGroup.udp().address(lo).port(0).workers(1).open()) {
            out.printf("kernel %s, backend %s; %d workers; servers and clients in this JVM, 127.0.0.1%n",
                    probe.capabilities().kernelRelease(), probe.capabilities().backend(), WORKERS);
        }
        out.println();
        out.println("steering of each group (printed once, when it opens):");

        boolean doBalance = only.contains("balance");
        boolean doMoved = only.contains("moved");
        Spread tcpKernel = null;
        Spread tcpRr = null;
        Spread tcpWeighted = null;
        Spread udpKernel = null;
        Spread udpSticky = null;
        Spread heavyKernel = null;
        Spread heavyRr = null;
        FlowsMoved movedKernel = null;
        FlowsMoved movedConsistent = null;
        FlowsMoved movedSticky = null;
        if (doBalance) {
            // TCP connections: connect, close
            progress.phase("balance: TCP");
            tcpKernel = tcpBalance("tcp_kernel", Policy.kernelHash());
            tcpRr = tcpBalance("tcp_rr", Policy.roundRobin());
            tcpWeighted = tcpBalance("weighted", Policy.weighted(WEIGHTS));
        }
        if (doBalance || doMoved) {
            // UDP flows, one datagram each, every flow's socket held open (distinct source ports)
            List<DatagramChannel> pool = Flows.open(lo, flows, true);
            try {
                if (doBalance) {
                    progress.phase("balance: UDP");
                    udpKernel = udpBalance("udp_kernel", Policy.kernelHash(), pool);
                    udpSticky = udpBalance("udp_sticky", Policy.sticky(), pool);
                    heavyKernel = heavy("heavy_kernel", Policy.kernelHash());
                    heavyRr = heavy("heavy_rr", Policy.roundRobin());
                }
                if (doMoved) {
                    progress.phase("moved");
                    movedKernel = moved("moved_kernel", Policy.kernelHash(), pool);
                    movedConsistent = moved("moved_consistent", Policy.consistent(), pool);
                    movedSticky = moved("moved_sticky", Policy.sticky(), pool);
                }
            } finally {
                for (DatagramChannel c : pool) {
                    c.close();
                }
            }
        }

        for (Spread b : Arrays.asList(tcpKernel, tcpRr, tcpWeighted, udpKernel, udpSticky, heavyKernel, heavyRr)) {
            if (b != null && b.total != b.expected) {
                notes.add(b.label + ": " + b.expected + " sent but " + b.total + " received/accepted");
            }
        }
        for (FlowsMoved m : Arrays.asList(movedKernel, movedConsistent, movedSticky)) {
            if (m != null && m.lost() > 0) {
                notes.add(m.label() + ": " + m.lost() + " datagrams sent but not received");
            }
        }

        double weightedErr = Double.NaN;
        if (doBalance) {
            out.println();
            out.printf("BALANCE (per-worker counts as the worker threads saw them; max/mean over all %d workers)%n",
                    WORKERS);
            StringBuilder h = new StringBuilder(String.format("%-13s %-24s", "run", "policy"));
            for (int s = 0; s < WORKERS; s++) {
                h.append(String.format(" %6s", "w" + s));
            }
            h.append(String.format(" %7s %6s %9s %5s  %s", "total", "lost", "max/mean", "idle", "bpf counters (cross-check)"));
            out.println(h);
            for (Spread b : List.of(tcpKernel, tcpRr, tcpWeighted, udpKernel, udpSticky, heavyKernel, heavyRr)) {
                out.println(b.row());
            }
            if (tcpWeighted.valid) {
                int wsum = Arrays.stream(WEIGHTS).sum();
                StringBuilder sh = new StringBuilder(String.format("%-13s %-24s", "", "weighted: share %"));
                StringBuilder wh = new StringBuilder(String.format("%-13s %-24s", "", "          weight share %"));
                weightedErr = 0;
                for (int s = 0; s < WORKERS; s++) {
                    double share = 100.0 * tcpWeighted.counts[s] / tcpWeighted.total;
                    double want = 100.0 * WEIGHTS[s] / wsum;
                    weightedErr = Math.max(weightedErr, Math.abs(share - want));
                    sh.append(String.format(" %6s", Stats.fmt(share, 2)));
                    wh.append(String.format(" %6s", Stats.fmt(want, 2)));
                }
                out.println(sh);
                out.println(wh + "   max |share - weight share| = " + Stats.fmt(weightedErr, 3) + " points");
            }
        }
        if (doMoved) {
            out.println();
            out.printf("MOVED when worker %d of %d leaves (%d UDP flows held open; one datagram per flow before and "
                    + "after removeWorker(%d); each policy on a fresh group)%n", LEAVER, WORKERS, flows, LEAVER);
            out.printf("%-17s %-12s %9s %8s %8s %8s %7s  %s%n", "run", "policy", "on-leaver", "others", "moved",
                    "moved%", "lost", "bpf counters (cross-check)");
            for (FlowsMoved m : List.of(movedKernel, movedConsistent, movedSticky)) {
                out.println(m.row());
            }
        }

        Alternating conn = null;
        Alternating udp = null;
        if (only.contains("conn")) {
            out.println();
            progress.phase("throughput: TCP");
            conn = tcpThroughput();
        }
        if (only.contains("udp")) {
            out.println();
            progress.phase("throughput: UDP");
            udp = udpThroughput();
        }

        double secs = (System.nanoTime() - started) / 1e9;
        out.println();
        for (String n : notes) {
            out.println("NOTE " + n);
        }
        out.printf(Locale.ROOT, "total time %.1f s%n", secs);
        new Result("balance").put("tcp_kernel", ratio(tcpKernel)).put("tcp_rr", ratio(tcpRr))
                .put("udp_kernel", ratio(udpKernel)).put("udp_sticky", ratio(udpSticky))
                .put("heavy_kernel", ratio(heavyKernel)).put("heavy_rr", ratio(heavyRr))
                .put("heavy_rr_idle", heavyRr != null && heavyRr.valid ? Integer.toString(heavyRr.idle()) : null)
                .put("moved_kernel", pct(movedKernel)).put("moved_consistent", pct(movedConsistent))
                .put("moved_sticky", pct(movedSticky)).put("weighted_err", weightedErr, 3)
                .put("bpf_vs_kernel_conn", conn == null ? null : conn.ratioText())
                .put("bpf_vs_kernel_udp", udp == null ? null : udp.ratioText()).print(out);
        return 0;
    }

    private static String ratio(Spread b) {
        return b == null ? "n/a" : b.ratioText();
    }

    private static String pct(FlowsMoved m) {
        return m == null ? "n/a" : m.pctText();
    }

    // ------------------------------------------------------------------ groups

    /** Opens a group and prints its steering line once; valid = the policy really is in force. */
    private ReuseportGroup open(String label, ReuseportGroup.Builder b, Policy policy) throws IOException {
        if (policy instanceof Policy.KernelHash) {
            // the kernel hash alone: no program, not even the pass-mode migrate program TCP groups get by default
            b.migration(false);
        }
        ReuseportGroup g = b.address(lo).port(0).workers(WORKERS).policy(policy).open();
        String steering = g.capabilities().steering();
        boolean program = !g.steeringCounters().isEmpty();
        out.printf("  %-17s %-24s steering: %s (%s)%s%n", label, policy.spec(), steering,
                g.capabilities().steeringReason(), policy instanceof Policy.KernelHash && program
                        ? " [WARNING: a program is attached to this kernel-hash group]" : "");
        out.flush();
        return g;
    }

    /** The group set against the kernel hash in the throughput rounds: consistent unless --vs says otherwise. */
    private ReuseportGroup openVs(String label, ReuseportGroup.Builder b) throws IOException {
        if (!vs.equals("pass")) {
            return open(label, b, Policy.parse(vs));
        }
        ReuseportGroup g = open(label, b, Policy.consistent());
        g.policy(Policy.kernelHash());
        out.printf("  %-17s %-24s steering: %s (%s)%n", label, "then kernel-hash", g.capabilities().steering(),
                g.capabilities().steeringReason());
        return g;
    }

    private String[] labels() {
        return new String[] {"kernel-hash", vsLabel()};
    }

    private Alternating.Plan plan() {
        return new Alternating.Plan(rounds, extraRounds, maxOthers);
    }

    private boolean vsInForce(ReuseportGroup g) throws IOException {
        return vs.equals("pass") ? !g.steeringCounters().isEmpty() : Steering.inForce(g, Policy.parse(vs));
    }

    private String vsLabel() {
        return vs.equals("pass") ? "bpf pass mode" : vs.equals("kernel-hash") ? "kernel-hash (A/A)" : "bpf " + vs;
    }

    // ------------------------------------------------------------------ balance (TCP)

    private Spread tcpBalance(String label, Policy policy) throws Exception {
        try (ReuseportGroup g = open(label, ReuseportGroup.tcp(), policy);
             AcceptCounter server = new AcceptCounter(g, false)) {
            InetSocketAddress target = g.localAddress();
            AtomicInteger next = new AtomicInteger();
            AtomicLong failed = new AtomicLong();
            long deadline = System.nanoTime() + 30_000_000_000L;
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread th = new Thread(() -> {
                    while (next.getAndIncrement() < connections && System.nanoTime() < deadline) {
                        try (SocketChannel ch = SocketChannel.open()) {
                            ch.connect(target); // no payload: connect, close
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                    }
                }, "balance-tcp-client-" + t);
                ts.add(th);
                th.start();
            }
            for (Thread th : ts) {
                th.join();
            }
            long expected = connections - failed.get();
            Timing.waitFor(() -> server.total() >= expected, 10_000);
            long[] counts = server.counts();
            Spread b = new Spread(label, policy, counts, connections, Steering.inForce(g, policy), Steering.counters(g));
            if (failed.get() > 0) {
                notes.add(label + ": " + failed.get() + " client connects failed");
            }
            return b;
        }
    }

    // ------------------------------------------------------------------ balance (UDP)

    private ReuseportGroup.Builder udpBuilder() {
        return ReuseportGroup.udp().receiveBuffer(receiveBuffer);
    }

    private Spread udpBalance(String label, Policy policy, List<DatagramChannel> pool) throws Exception {
        try (ReuseportGroup g = open(label, udpBuilder(), policy); UdpSink sink = new UdpSink(g, pool.size(), 1)) {
            sink.sendOnePerFlow(pool, g.localAddress(), UdpSink.KIND_PHASE0);
            Timing.waitFor(() -> sink.phaseCount.get(UdpSink.KIND_PHASE0) >= pool.size(), 5_000);
            return new Spread(label, policy, sink.counts(), pool.size(), Steering.inForce(g, policy), Steering.counters(g));
        }
    }

    private Spread heavy(String label, Policy policy) throws Exception {
        List<DatagramChannel> senders = Flows.open(lo, heavyFlows, true);
        try (ReuseportGroup g = open(label, udpBuilder(), policy); UdpSink sink = new UdpSink(g, heavyFlows, 1)) {
            InetSocketAddress target = g.localAddress();
            ByteBuffer msg = ByteBuffer.allocateDirect(16);
            long total = (long) heavyFlows * heavyDatagrams;
            long sent = 0;
            long deadline = System.nanoTime() + 20_000_000_000L;
            for (int d = 0; d < heavyDatagrams; d++) {
                for (int f = 0; f < heavyFlows; f++) {
                    while (sent - sink.phaseCount.get(UdpSink.KIND_PHASE0) >= 64 && System.nanoTime() < deadline) {
                        LockSupport.parkNanos(20_000);
                    }
                    msg.clear();
                    msg.putInt(0, UdpSink.KIND_PHASE0).putInt(4, f).putInt(8, d).putInt(12, 0);
                    senders.get(f).send(msg, target);
                    sent++;
                }
            }
            Timing.waitFor(() -> sink.phaseCount.get(UdpSink.KIND_PHASE0) >= total, 5_000);
            StringBuilder where = new StringBuilder();
            if (policy instanceof Policy.KernelHash) {
                // each flow keeps one worker under a hash: show which (and its source port)
                where.append("; flow(port)->worker");
                for (int f = 0; f < heavyFlows; f++) {
                    where.append(' ').append(((InetSocketAddress) senders.get(f).getLocalAddress()).getPort())
                            .append("->w").append(sink.flowSlot[0].get(f) - 1);
                }
            }
            return new Spread(label, policy, sink.counts(), total, Steering.inForce(g, policy), Steering.counters(g) + where);
        } finally {
            for (DatagramChannel c : senders) {
                c.close();
            }
        }
    }

    // ------------------------------------------------------------------ moved

    private FlowsMoved moved(String label, Policy policy, List<DatagramChannel> pool) throws Exception {
        try (ReuseportGroup g = open(label, udpBuilder(), policy); UdpSink sink = new UdpSink(g, pool.size(), 2)) {
            InetSocketAddress target = g.localAddress();
            int n = pool.size();
            sink.sendOnePerFlow(pool, target, UdpSink.KIND_PHASE0);
            Timing.waitFor(() -> sink.phaseCount.get(UdpSink.KIND_PHASE0) >= n, 5_000);
            long lost0 = n - sink.phaseCount.get(UdpSink.KIND_PHASE0);
            g.removeWorker(LEAVER);
            // the leaver's thread sees its worker closed and exits; its deferred close(2) happens then
            sink.thread(LEAVER).join(2_000);
            sink.sendOnePerFlow(pool, target, UdpSink.KIND_PHASE1);
            Timing.waitFor(() -> sink.phaseCount.get(UdpSink.KIND_PHASE1) >= n, 5_000);
            long lost1 = n - sink.phaseCount.get(UdpSink.KIND_PHASE1);
            int onLeaver = 0;
            int others = 0;
            int moved = 0;
            int unknown = 0;
            for (int f = 0; f < n; f++) {
                int before = sink.flowSlot[0].get(f) - 1;
                int after = sink.flowSlot[1].get(f) - 1;
                if (before < 0 || after < 0) {
                    unknown++;
                    continue;
                }
                if (before == LEAVER) {
                    onLeaver++;
                    continue;
                }
                others++;
                if (after != before) {
                    moved++;
                }
            }
            if (unknown > 0) {
                notes.add(label + ": " + unknown + " flows not seen before or after (lost datagrams); left out");
            }
            return new FlowsMoved(label, policy, onLeaver, others, moved, lost0 + lost1, Steering.inForce(g, policy), Steering.counters(g));
        }
    }

    // ------------------------------------------------------------------ throughput

    private Alternating tcpThroughput() throws Exception {
        out.printf("THROUGHPUT TCP: connections/s; %d client threads, a connection per request (connect, 64 B, "
                + "half-close, read the echo, close); echo server and clients in this JVM; %.1f s + %.1f s warm-up "
                + "per round; kernel hash and %s alternating%n", clients, seconds, warmup, vsLabel());
        try (ReuseportGroup kg = open("conn_kernel", ReuseportGroup.tcp(), Policy.kernelHash());
             ReuseportGroup bg = openVs("conn_bpf", ReuseportGroup.tcp());
             AcceptCounter ks = new AcceptCounter(kg, true);
             AcceptCounter bs = new AcceptCounter(bg, true)) {
            Alternating t = Alternating.run(out, "conn/s", String.format("%8s %10s %9s", "failed", "accepted", "max/mean"),
                    labels(), plan(), notes, (v, attempt) -> {
                        ReuseportGroup g = v == 0 ? kg : bg;
                        AcceptCounter s = v == 0 ? ks : bs;
                        LoadGenerator.tcp(g.localAddress(), Integer.MAX_VALUE, clients, 64, warmup);
                        long[] a0 = s.counts();
                        CpuSample cpu0 = CpuSample.now();
                        LoadGenerator.Result res = LoadGenerator.tcp(g.localAddress(), Integer.MAX_VALUE, clients, 64,
                                seconds);
                        CpuSample cpu1 = CpuSample.now();
                        long[] a1 = s.counts();
                        long[] d = new long[WORKERS];
                        for (int i = 0; i < WORKERS; i++) {
                            d[i] = a1[i] - a0[i];
                        }
                        if (res.failed() > 0) {
                            notes.add("conn attempt " + (attempt + 1) + (v == 0 ? " kernel" : " " + vsLabel()) + ": "
                                    + res.failed() + " failed connections");
                        }
                        return new Alternating.RoundOut(res.rate(), cpu0.oursPct(cpu1), cpu0.othersPct(cpu1),
                                String.format(Locale.ROOT, "%8d %10d %9.3f", res.failed(), Stats.sum(d), Stats.maxOverMean(d)));
                    });
            t.valid = vsInForce(bg);
            t.bpfCounters = Steering.counters(bg);
            out.println(t.summary(vsLabel()));
            return t;
        }
    }

    private Alternating udpThroughput() throws Exception {
        out.printf("THROUGHPUT UDP: datagrams/s received by the worker threads (one per worker, draining with "
                + "receive); %d sender threads x %d flows (own sockets), bursts of %d per flow, at most %d in flight "
                + "per sender; %.1f s + %.1f s warm-up per round; kernel hash and %s alternating%n", udpSenders,
                udpFlowsPerSender, burst, window, seconds, warmup, vsLabel());
        int senderIds = (rounds + extraRounds) * udpSenders;
        try (ReuseportGroup kg = open("udp_rate_kernel", udpBuilder(), Policy.kernelHash());
             ReuseportGroup bg = openVs("udp_rate_bpf", udpBuilder());
             UdpSink ks = new UdpSink(kg, 0, 0, senderIds);
             UdpSink bs = new UdpSink(bg, 0, 0, senderIds)) {
            Alternating t = Alternating.run(out, "dgram/s", String.format("%10s %8s %9s", "sent", "drops", "max/mean"),
                    labels(), plan(), notes, (v, attempt) -> {
                        ReuseportGroup g = v == 0 ? kg : bg;
                        UdpSink s = v == 0 ? ks : bs;
                        long drops0 = Steering.drops(g);
                        List<DatagramChannel> chans = Flows.open(lo, udpSenders * udpFlowsPerSender, true);
                        AtomicLong sentTotal = new AtomicLong();
                        long[] c0;
                        long[] c1;
                        CpuSample cpu0;
                        CpuSample cpu1;
                        try {
                            for (DatagramChannel c : chans) {
                                c.connect(g.localAddress());
                            }
                            long start = System.nanoTime();
                            long end = start + (long) ((warmup + seconds) * 1e9) + 50_000_000L;
                            List<Thread> ts = new ArrayList<>();
                            for (int k = 0; k < udpSenders; k++) {
                                int id = attempt * udpSenders + k;
                                List<DatagramChannel> mine = chans.subList(k * udpFlowsPerSender,
                                        (k + 1) * udpFlowsPerSender);
                                Thread th = new Thread(() -> s.sendCredited(id, mine, end, sentTotal, burst, window, notes), "udp-sender-" + k);
                                ts.add(th);
                                th.start();
                            }
                            Timing.sleepUntil(start + (long) (warmup * 1e9));
                            c0 = s.counts();
                            cpu0 = CpuSample.now();
                            Timing.sleepUntil(cpu0.wallNanos() + (long) (seconds * 1e9));
                            c1 = s.counts();
                            cpu1 = CpuSample.now();
                            for (Thread th : ts) {
                                th.join();
                            }
                            long sent = sentTotal.get();
                            long id0 = (long) attempt * udpSenders;
                            // let the last bursts drain before the next round (bounded)
                            Timing.waitFor(() -> s.creditSum(id0, udpSenders) >= sent, 1_000);
                        } finally {
                            for (DatagramChannel c : chans) {
                                c.close();
                            }
                        }
                        long d = Steering.drops(g) - drops0;
                        long[] delta = new long[WORKERS];
                        for (int i = 0; i < WORKERS; i++) {
                            delta[i] = c1[i] - c0[i];
                        }
                        double rate = Stats.sum(delta) / ((cpu1.wallNanos() - cpu0.wallNanos()) / 1e9);
                        if (d > 0) {
                            notes.add("udp attempt " + (attempt + 1) + (v == 0 ? " kernel" : " " + vsLabel()) + ": " + d
                                    + " datagrams dropped by full receive buffers");
                        }
                        return new Alternating.RoundOut(rate, cpu0.oursPct(cpu1), cpu0.othersPct(cpu1),
                                String.format(Locale.ROOT, "%10d %8d %9.3f", sentTotal.get(), d, Stats.maxOverMean(delta)));
                    });
            t.valid = vsInForce(bg);
            t.bpfCounters = Steering.counters(bg);
            out.println(t.summary(vsLabel()));
            return t;
        }
    }
    // ------------------------------------------------------------------ servers

    // ------------------------------------------------------------------ results

}