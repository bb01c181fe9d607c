package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.examples.bench.harness.AcceptCounter;
import dev.reuseport.examples.bench.harness.Alternating;
import dev.reuseport.examples.bench.harness.Flows;
import dev.reuseport.examples.bench.harness.FlowsMoved;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Spread;
import dev.reuseport.examples.bench.harness.Steering;
import dev.reuseport.examples.bench.harness.TcpClients;
import dev.reuseport.examples.bench.harness.Timing;
import dev.reuseport.examples.bench.harness.UdpSink;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
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

        Spread.noteShortfalls(notes, Arrays.asList(tcpKernel, tcpRr, tcpWeighted, udpKernel, udpSticky, heavyKernel,
                heavyRr));
        FlowsMoved.noteLost(notes, Arrays.asList(movedKernel, movedConsistent, movedSticky));

        double weightedErr = Double.NaN;
        if (doBalance) {
            out.println();
            out.printf("BALANCE (per-worker counts as the worker threads saw them; max/mean over all %d workers)%n",
                    WORKERS);
            Spread.printTable(out, List.of(tcpKernel, tcpRr, tcpWeighted, udpKernel, udpSticky, heavyKernel, heavyRr),
                    WORKERS);
            weightedErr = Spread.weightedError(out, tcpWeighted, WEIGHTS);
        }
        if (doMoved) {
            out.println();
            FlowsMoved.printTable(out, LEAVER, WORKERS, flows, List.of(movedKernel, movedConsistent, movedSticky));
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
        new Result("balance").put("tcp_kernel", Spread.ratioText(tcpKernel)).put("tcp_rr", Spread.ratioText(tcpRr))
                .put("udp_kernel", Spread.ratioText(udpKernel)).put("udp_sticky", Spread.ratioText(udpSticky))
                .put("heavy_kernel", Spread.ratioText(heavyKernel)).put("heavy_rr", Spread.ratioText(heavyRr))
                .put("heavy_rr_idle", heavyRr != null && heavyRr.valid ? Integer.toString(heavyRr.idle()) : null)
                .put("moved_kernel", FlowsMoved.pctText(movedKernel))
                .put("moved_consistent", FlowsMoved.pctText(movedConsistent))
                .put("moved_sticky", FlowsMoved.pctText(movedSticky)).put("weighted_err", weightedErr, 3)
                .put("bpf_vs_kernel_conn", conn == null ? null : conn.ratioText())
                .put("bpf_vs_kernel_udp", udp == null ? null : udp.ratioText()).print(out);
        return 0;
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
        g.applyPolicy(Policy.kernelHash());
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
            long failed = TcpClients.connectAndClose(g.localAddress(), connections, 4, 30_000);
            long expected = connections - failed;
            Timing.waitFor(() -> server.total() >= expected, 10_000);
            if (failed > 0) {
                notes.add(label + ": " + failed + " client connects failed");
            }
            return new Spread(label, policy, server.counts(), connections, Steering.inForce(g, policy), Steering.counters(g));
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
            long total = sink.sendHeavy(senders, g.localAddress(), heavyDatagrams);
            Timing.waitFor(() -> sink.phaseCount.get(UdpSink.KIND_PHASE0) >= total, 5_000);
            // each flow keeps one worker under a hash: show which (and its source port)
            String where = policy instanceof Policy.KernelHash ? sink.flowWorkers(senders) : "";
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
            return FlowsMoved.count(label, policy, sink.flowSlot[0], sink.flowSlot[1], LEAVER, lost0 + lost1,
                    Steering.inForce(g, policy), Steering.counters(g), notes);
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
                        String label = (v == 0 ? "kernel" : vsLabel());
                        return (v == 0 ? ks : bs).round((v == 0 ? kg : bg).localAddress(), clients, warmup, seconds,
                                failed -> notes.add("conn attempt " + (attempt + 1) + " " + label + ": " + failed
                                        + " failed connections"));
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
        UdpSink.CreditedLoad load = new UdpSink.CreditedLoad(lo, udpSenders, udpFlowsPerSender, burst, window, warmup,
                seconds);
        try (ReuseportGroup kg = open("udp_rate_kernel", udpBuilder(), Policy.kernelHash());
             ReuseportGroup bg = openVs("udp_rate_bpf", udpBuilder());
             UdpSink ks = new UdpSink(kg, 0, 0, senderIds);
             UdpSink bs = new UdpSink(bg, 0, 0, senderIds)) {
            Alternating t = Alternating.run(out, "dgram/s", String.format("%10s %8s %9s", "sent", "drops", "max/mean"),
                    labels(), plan(), notes, (v, attempt) -> (v == 0 ? ks : bs).creditedRound(v == 0 ? kg : bg, load,
                            attempt, v == 0 ? "kernel" : vsLabel(), notes));
            t.valid = vsInForce(bg);
            t.bpfCounters = Steering.counters(bg);
            out.println(t.summary(vsLabel()));
            return t;
        }
    }
}