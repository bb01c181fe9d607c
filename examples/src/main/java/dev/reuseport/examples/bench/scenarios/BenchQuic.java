package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.QuicCid;
import dev.reuseport.examples.bench.harness.KernelCounters;
import dev.reuseport.examples.bench.harness.PairedRounds;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.QuicHandoffs;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.netty.NettyQuic;
import dev.reuseport.netty.check.NatRelay;
import dev.reuseport.netty.check.QuicEcho;
import dev.reuseport.netty.check.QuicEchoClients;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicSslContext;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench quic}: a Netty QUIC echo server on a UDP group ({@link NettyQuic}: one codec per worker, server
 * connection ids carrying the worker's routing cookie) and Netty QUIC clients in this JVM on loopback.
 * Phases, in this order ({@code --only} picks some: {@code pps}, {@code resizes}, {@code rebind},
 * {@code handoffs}): (pps) packets/s of QUIC short-header datagrams (cookie-bearing ids, 64 flows) to the
 * group's workers, the QUIC dissector (consistent policy) against the kernel hash: a warm-up round of each,
 * then {@code --pairs} pairs in ABBA order, the figure the median of the per-pair ratios
 * ({@link PairedRounds}); it runs first, in a JVM that has run nothing else. (resizes) long-lived
 * connections open a stream every {@code --period-ms}, each echo checked, through {@code --resizes} resizes
 * (workers to 1.5x and back; the first hold longer than a stream's timeout), with the QUIC dissector, then
 * the same with 2 resizes on the kernel hash (the baseline). (rebind) NAT rebinding: connections through a
 * relay that moves each client to a new source port every second, with the dissector and on the kernel
 * hash. (handoffs) cross-process hand-offs ({@link QuicHandoffs}): {@code --handoffs} times a
 * {@code netty-echo --quic} server in a child JVM takes the group over from the previous one while batches
 * of long-lived connections (at least {@code --connections} open at once) keep opening streams; once with
 * socket generations (broken_generations) and once passing the sockets as for TCP (broken_naive).
 */
@Command(name = "quic", mixinStandardHelpOptions = true,
        description = "Netty QUIC on a group: connections through resizes and NAT rebinding with the QUIC dissector "
                + "and on the kernel hash, hand-offs between JVMs, QUIC packets/s dissector vs kernel hash (--only pps).")
public final class BenchQuic implements Callable<Integer> {
    private static final int CID = 16;

    @Spec
    CommandSpec spec;

    @Option(names = "--workers", defaultValue = "8", description = "workers (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--connections", defaultValue = "200", description = "long-lived connections (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--resizes", defaultValue = "20", description = "resizes with the dissector (default ${DEFAULT-VALUE})")
    int resizes;

    @Option(names = "--period-ms", defaultValue = "50", description = "between a connection's streams (default ${DEFAULT-VALUE})")
    long periodMillis;

    @Option(names = "--timeout-ms", defaultValue = "2000", description = "for each echo (default ${DEFAULT-VALUE})")
    long timeoutMillis;

    @Option(names = "--rebind-connections", defaultValue = "32", description = "connections through the relay (default ${DEFAULT-VALUE})")
    int rebindConnections;

    @Option(names = "--rebinds", defaultValue = "5", description = "rebinds, one a second (default ${DEFAULT-VALUE}; at most 6)")
    int rebinds;

    @Option(names = "--handoffs", defaultValue = "10", description = "cross-process hand-offs per mode (default ${DEFAULT-VALUE})")
    int handoffs;

    @Option(names = "--pairs", defaultValue = "12", description = "packets/s round pairs, ABBA order (default ${DEFAULT-VALUE})")
    int pairs;

    @Option(names = "--seconds", defaultValue = "1.5", description = "seconds per packets/s round (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup-seconds", defaultValue = "2", description = "packets/s warm-up per side, discarded (default ${DEFAULT-VALUE})")
    double warmupSeconds;

    /** The phases {@code --only} names, in the order they run. */
    static final List<String> PHASES = List.of("resizes", "rebind", "handoffs", "pps");

    @Option(names = "--only", split = ",", paramLabel = "PHASE",
            description = "run only these phases (comma-separated: resizes, rebind, handoffs, pps; default all); "
                    + "the RESULT keys of the others print n/a")
    List<String> only;

    private PrintWriter out;
    private QuicSslContext ssl;
    private EventLoopGroup serverLoops;
    private EventLoopGroup clientLoops;
    private long misrouted;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        if (workers < 2 || workers > 64 || connections < 1 || resizes < 2 || rebinds < 2 || rebinds > 6 || pairs < 1
                || seconds <= 0 || warmupSeconds < 0 || periodMillis < 1 || timeoutMillis < 100 || handoffs < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--workers 2..64, --connections 1+, "
                    + "--resizes 2+, --rebinds 2..6, --pairs 1+, --seconds > 0, --warmup-seconds 0+, --period-ms 1+, "
                    + "--timeout-ms 100+, --handoffs 1+");
        }
        if (only != null) {
            for (String p : only) {
                if (!PHASES.contains(p)) {
                    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--only '" + p
                            + "'; accepted: a comma-separated list of " + String.join(", ", PHASES));
                }
            }
        }
        if (!Quic.isAvailable()) {
            out.println("Netty QUIC natives unavailable: " + Quic.unavailabilityCause());
            return 1;
        }
        String refusal = KernelCounters.loopbackUp(out, new boolean[1]); // a fresh unshare -n has lo down
        if (refusal != null) {
            out.println(refusal);
            return 1;
        }
        Progress progress = new Progress(spec.commandLine().getErr(), "quic");
        int max = workers + workers / 2;
        serverLoops = new MultiThreadIoEventLoopGroup(max, EpollIoHandler.newFactory());
        clientLoops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try {
            ssl = QuicEcho.selfSignedServerSsl();
            out.printf("%d workers (resized to %d and back), streams of %d B every %d ms per connection, echo timeout "
                    + "%d ms; server and clients in this JVM, loopback; phases: %s%n%n", workers, max, QuicEcho.PAYLOAD,
                    periodMillis, timeoutMillis, only == null ? "all" : String.join(",", only));
            // packets/s first, in a fresh JVM: run after the hand-off phase (20 child JVMs, 290k streams of garbage
            // in this heap) its pairs once spread 0.76-1.30 and gave 0.914, against 1.047 (0.93-1.19) without it
            PairedRounds.Outcome pps = null;
            if (runs("pps")) {
                progress.phase("packets/s");
                pps = packetRates(progress);
                out.println();
            }
            long[] cid = null;
            long[] hash = null;
            long[] rcid = null;
            long[] rhash = null;
            QuicHandoffs.Outcome gens = null;
            QuicHandoffs.Outcome naive = null;
            if (runs("resizes") || runs("rebind") || runs("handoffs")) {
                out.printf("%-22s %-9s %6s %7s %9s %8s %7s %10s%n", "phase", "steering", "conns", "changes", "streams",
                        "failed", "broken", "misrouted");
            }
            if (runs("resizes")) {
                progress.phase("resizes with the QUIC dissector");
                cid = run(true, connections, resizes, 0, max);
                progress.phase("resizes on the kernel hash");
                hash = run(false, Math.min(connections, 64), 2, 0, max);
            }
            if (runs("rebind")) {
                progress.phase("NAT rebinding with the QUIC dissector");
                rcid = run(true, rebindConnections, 0, rebinds, max);
                progress.phase("NAT rebinding on the kernel hash");
                rhash = run(false, rebindConnections, 0, rebinds, max);
            }
            if (runs("handoffs")) {
                gens = handoffs(true, progress);
                naive = handoffs(false, progress);
            }
            new Result("quic").put("connections", cid == null ? null : cid[0])
                    .put("broken_generations", gens == null ? null : gens.broken())
                    .put("broken_naive", naive == null ? null : naive.broken())
                    .put("handoff_connections", gens == null ? null : gens.connections())
                    .put("handoff_streams_failed", gens == null ? null : gens.failed())
                    .put("streams", cid == null && rcid == null ? null : (cid == null ? 0 : cid[2])
                            + (rcid == null ? 0 : rcid[2]))
                    .put("streams_failed", cid == null && rcid == null ? null : (cid == null ? 0 : cid[3])
                            + (rcid == null ? 0 : rcid[3]))
                    .put("rebind_broken_cid", rcid == null ? null : rcid[1])
                    .put("rebind_broken_hash", rhash == null ? null : rhash[1]).put("misrouted", misrouted)
                    .put("cid_vs_kernel_pps", pps == null ? Double.NaN : pps.pairRatio(), 3)
                    .put("cid_vs_kernel_pps_of_medians", pps == null ? Double.NaN : pps.ratioOfMedians(), 3)
                    .put("pps_pair_q1", pps == null ? Double.NaN : pps.q1(), 3)
                    .put("pps_pair_q3", pps == null ? Double.NaN : pps.q3(), 3)
                    .put("resize_broken_cid", cid == null ? null : cid[1])
                    .put("resize_broken_hash", hash == null ? null : hash[1]).print(out);
            return 0;
        } finally {
            serverLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            clientLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /**
     * One phase: {@code n} connections (through a rebinding relay when {@code rebindCount > 0}) under
     * {@code resizeCount} resizes; returns {connections, broken, streams ok, streams failed}.
     */
    private long[] run(boolean dissector, int n, int resizeCount, int rebindCount, int max) throws Exception {
        ReuseportGroup.Builder b = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).workers(workers);
        b = dissector ? b.policy(Policy.roundRobin()).dissector(Dissector.quic(CID)) : b.policy(Policy.kernelHash());
        QuicEcho.Echo echo = new QuicEcho.Echo();
        try (ReuseportGroup g = b.open();
             NettyQuic quic = NettyQuic.serve(g, serverLoops, QuicEcho.serverCodec(ssl, echo));
             NatRelay relay = rebindCount > 0 ? new NatRelay(g.localAddress(), 1_000,
                     (rebindCount + 4) * 1_000L + 60_000) : null;
             QuicEchoClients clients = new QuicEchoClients(periodMillis, timeoutMillis)) {
            if (dissector && !g.capabilities().toString().contains("steering=bpf")) {
                throw new IllegalStateException("the QUIC dissector needs eBPF steering: " + g.capabilities());
            }
            clients.connect(clientLoops, relay != null ? relay.address() : g.localAddress(), n);
            clients.start();
            if (relay != null) {
                relay.startRebinding();
            }
            for (int i = 0; i < resizeCount; i++) {
                g.resize(i % 2 == 0 ? max : workers);
                Thread.sleep(i == 0 ? timeoutMillis + 500 : 200);
            }
            if (relay != null) {
                long start = relay.rebinds.get();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(rebindCount + 5);
                while (relay.rebinds.get() - start < rebindCount && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
            }
            Thread.sleep(timeoutMillis + 200); // every stream opened so far has had its time
            long[] r = {clients.connected(), clients.broken(), clients.ok.get(), clients.failed.get()};
            if (dissector) {
                misrouted += quic.misrouted();
            }
            out.printf("%-22s %-9s %6d %7s %9d %8d %7d %10d%n", rebindCount > 0 ? "NAT rebinding" : "resizes",
                    dissector ? "quic-cid" : "kernel", r[0], rebindCount > 0 ? rebindCount + " rb" : resizeCount + " rs",
                    r[2], r[3], r[1], quic.misrouted());
            out.flush();
            return r;
        }
    }

    private boolean runs(String phase) {
        return only == null || only.contains(phase);
    }

    /** {@code --handoffs} cross-process hand-offs with (or without) socket generations, printed as a row. */
    private QuicHandoffs.Outcome handoffs(boolean generations, Progress progress) throws Exception {
        int batch = (connections + 2) / 3; // three batches at least are open at once
        QuicHandoffs.Outcome o = QuicHandoffs.run(clientLoops, generations, workers, batch, handoffs, periodMillis,
                timeoutMillis, progress);
        out.printf("%-22s %-9s %6d %7s %9d %8d %7d %10s%n", "hand-offs (JVMs)", generations ? "gens" : "passed",
                o.connections(), o.handoffs() + " ho", o.ok(), o.failed(), o.broken(), "-");
        out.flush();
        return o;
    }

    /**
     * Cookie-bearing short-header datagrams, the QUIC dissector (consistent policy) against the kernel hash:
     * warm-up rounds, then {@code --pairs} pairs in ABBA order ({@link PairedRounds}); the figure is the median of
     * the per-pair ratios.
     */
    private PairedRounds.Outcome packetRates(Progress progress) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).workers(workers)
                .policy(Policy.kernelHash()).dissector(Dissector.quic(CID)).open()) {
            AtomicLong received = new AtomicLong();
            AtomicLong wrong = new AtomicLong();
            boolean[] steering = new boolean[1];
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            long endNanos = System.nanoTime() + (long) ((pairs * 2 * (seconds + 0.1) + 2 * warmupSeconds + 30) * 1e9);
            List<Thread> threads = new ArrayList<>();
            for (Worker w : g.workers()) {
                threads.add(start("quic-rx-" + w.slot(), () -> {
                    ByteBuffer buf = ByteBuffer.allocate(2048);
                    while (!stop.get() && System.nanoTime() < endNanos) {
                        buf.clear();
                        if (w.receive(buf, Duration.ofMillis(100)) != null) {
                            received.incrementAndGet();
                            if (steering[0] && buf.get(3) != (byte) w.slot()) { // the id's octet 2 (after the header octet): the worker
                                wrong.incrementAndGet();
                            }
                        }
                    }
                }));
            }
            int[] gk = g.cookieGeneration();
            InetSocketAddress target = g.localAddress();
            Random random = new Random(14);
            List<DatagramChannel> flows = new ArrayList<>();
            List<byte[]> packets = new ArrayList<>();
            for (int f = 0; f < 64; f++) {
                flows.add(DatagramChannel.open().bind(new InetSocketAddress(target.getAddress(), 0)));
                byte[] p = new byte[100];
                p[0] = 0x40;
                System.arraycopy(QuicCid.encode(CID, 0, gk[0], f % workers, gk[1], random), 0, p, 1, CID);
                packets.add(p);
            }
            for (int t = 0; t < 2; t++) {
                int first = t;
                threads.add(start("quic-tx-" + t, () -> {
                    ByteBuffer buf = ByteBuffer.allocate(100);
                    while (!stop.get() && System.nanoTime() < endNanos) {
                        for (int f = first; f < flows.size(); f += 2) {
                            flows.get(f).send(buf.clear().put(packets.get(f)).flip(), target);
                        }
                    }
                }));
            }
            out.printf("QUIC short-header datagrams (100 B, 64 flows, 2 sender threads) to %d workers: OFF = kernel "
                    + "hash, ON = QUIC dissector (consistent policy)%n", workers);
            PairedRounds.Outcome o = PairedRounds.run(out, (long) (warmupSeconds * 1e9), pairs, (long) (seconds * 1e9),
                    100_000_000L, received::get, on -> {
                        steering[0] = false;
                        g.policy(on ? Policy.consistent() : Policy.kernelHash());
                        Thread.sleep(50); // datagrams already queued under the other steering drain first
                        steering[0] = on;
                    }, progress);
            out.printf("cookie packets at another worker: %d%n", wrong.get());
            misrouted += wrong.get();
            stop.set(true);
            for (Thread t : threads) {
                t.join(2_000);
            }
            for (DatagramChannel c : flows) {
                c.close();
            }
            return o;
        }
    }

    private interface Body {
        void run() throws Exception;
    }

    private static Thread start(String name, Body body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Exception e) {
                throw new IllegalStateException(name + ": " + e, e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }
}
