package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Controller;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.examples.bench.harness.ChangeTimeline.Change;
import dev.reuseport.examples.bench.harness.CheckedTcpServer;
import dev.reuseport.examples.bench.harness.FdCensus;
import dev.reuseport.examples.bench.harness.KernelCounters;
import dev.reuseport.examples.bench.harness.NumberedUdpLoad;
import dev.reuseport.examples.bench.harness.PacedTcpLoad;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.SeqUdpServer;
import dev.reuseport.examples.bench.harness.SoakWire;
import dev.reuseport.examples.bench.harness.SoakChange;
import dev.reuseport.examples.bench.harness.SoakReport;
import dev.reuseport.examples.bench.harness.SoakState;
import dev.reuseport.examples.bench.harness.HandoffChurn;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
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
 * failures are placed on the change in force when the datagram was sent or the connection began. Beside
 * them, every {@code --handoff-every-seconds}, a cross-process hand-off between child JVMs on a port of its
 * own ({@link HandoffChurn}: a kill -9 of one side at a random step every third time, a hostile control
 * client, the old side's {@code fallback} timed during each hand-off). The pieces live in the bench
 * harness ({@code SoakState}, {@code SoakChange}, {@code SoakReport}).
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

    @Option(names = "--handoff-every-seconds", defaultValue = "5", description = "a cross-process hand-off "
            + "between child JVMs every this many seconds, on a port of its own, with a kill -9 of one side at a "
            + "random step every third time and a hostile control client beside it; 0: none (default ${DEFAULT-VALUE})")
    int handoffEvery;

    @Option(names = "--handoff-rate", defaultValue = "200", description = "connections per second against the "
            + "hand-off churn's port (default ${DEFAULT-VALUE})")
    int handoffRate;

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
        check("--handoff-every-seconds", handoffEvery, 0, 600);
        check("--handoff-rate", handoffRate, 1, 10_000);
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
        String refusal = KernelCounters.prepareNetwork(out);
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
        HandoffChurn.warmUp(); // likewise jnr's native stub for the churn's Unix sockets
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
        SoakReport.print(out, run, order.stream().map(k -> k.label).toList(), fdsBefore, fdsAfter, k0, k1, seconds,
                intervalMs);
        return 0;
    }

    private void check(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new ParameterException(spec.commandLine(), name + " " + value + " is out of range; accepted: "
                    + min + ".." + max);
        }
    }

    // ---------------------------------------------------------------- the run

    /** Everything one soak opens, and what it counted. */
    final class Run extends SoakState {
        final InetAddress lo;
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
            out.printf("TCP group %s, %d workers, steering: %s (%s)%n", SoakState.address(tcp), WORKERS,
                    tcp.capabilities().steering(), tcp.capabilities().steeringReason());
            out.printf("UDP group %s, %d workers, SO_RCVBUF asked %d (kernel caps at net.core.rmem_max), steering: %s%n",
                    SoakState.address(udp), WORKERS, UDP_RECEIVE_BUFFER, udp.capabilities().steering());
            out.printf("load: %d TCP clients, %d connections/s in all (a connection per request, %d bytes, echo "
                    + "checked); %d UDP senders x %d flows, %d datagrams/s in all, paced, numbered; UDP workers count, "
                    + "no echo%n", TCP_CLIENTS, tcpRate, PAYLOAD, UDP_SENDERS, FLOWS_PER_SENDER, udpRate);
            out.printf("changes: every %d ms for %d s, cycling %s (policies %s); each applied to both groups%n",
                    intervalMs, seconds, order.stream().map(k -> k.label).collect(java.util.stream.Collectors.joining(
                            ", ")), String.join(", ", policies));
            out.flush();

            udpInErrors0 = SoakState.udpCounter("Udp.InErrors");
            long hardDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds + 120L);
            tcpLoad = new PacedTcpLoad(tcp.localAddress(), tcpRate, hardDeadline);
            udpLoad = new NumberedUdpLoad(udp.localAddress(), udpRate, maxSeq, hardDeadline, lo);
            tcpLoad.start();
            udpLoad.start();
            Thread churning = handoffEvery == 0 ? null : startChurn(hardDeadline);
            startWakeSampler();
            start = System.nanoTime();
            Thread.sleep(Math.min(500, intervalMs * 5L)); // load before the first change
            changeLoop();
            changesEnd = System.nanoTime();
            if (churning != null) {
                churning.interrupt();
                churning.join(90_000);
            }
            stopWakeSampler();
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
            udpInErrors1 = SoakState.udpCounter("Udp.InErrors");
            for (WorkerStats s : udp.stats()) {
                liveSocketDrops += s.drops();
            }
        }

        /** The hand-off churn and its thread: hand-off i every --handoff-every-seconds until interrupted. */
        private Thread startChurn(long hardDeadline) throws IOException, InterruptedException {
            churn = new HandoffChurn(handoffRate, hardDeadline, 15L);
            if (!churn.awaitSpare()) { // the schedule starts with a new side ready: hand-off 1 at once
                notes.add("hand-off churn: the first new side did not start in time");
            }
            out.printf("hand-off churn: child JVMs serving a TCP group of 4, handed off every %d s (kill -9 at a random "
                    + "step every third time), %d connections/s against it, a hostile control client beside it%n",
                    handoffEvery, handoffRate);
            Thread t = new Thread(() -> {
                // fixed rate from the start: hand-off i at i periods (the next new side is started ahead of its
                // turn, so a slow JVM start does not push the schedule; a late one does not make the next
                // sooner); a hand-off stopped by killing its new side is followed at once by the next new side
                long period = handoffEvery * 1_000_000_000L;
                long next = System.nanoTime();
                for (int i = 0; i < 100_000; i++) {
                    try {
                        long wait = next - System.nanoTime();
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        }
                        long killedBefore = churn.killedNew.get();
                        churn.handOff(i);
                        next = churn.killedNew.get() > killedBefore ? System.nanoTime()
                                : Math.max(next + period, System.nanoTime());
                    } catch (InterruptedException e) {
                        return;
                    } catch (IOException | RuntimeException e) {
                        notes.add("hand-off churn " + (i + 1) + ": " + e);
                    }
                }
            }, "soak-handoff-churn");
            t.start();
            return t;
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
                c.udpInErrorsAtStart = SoakState.udpCounter("Udp.InErrors");
                c.start = System.nanoTime();
                c.tcpError = SoakChange.apply(this, tcp, tcpController, tcpServer, kind.label, n, c, policyName(n),
                        STATES[n % STATES.length], WORKERS, resizeTo);
                long mid = System.nanoTime();
                c.udpError = SoakChange.apply(this, udp, udpController, udpServer, kind.label, n, c, policyName(n),
                        STATES[n % STATES.length], WORKERS, resizeTo);
                c.end = System.nanoTime();
                c.tcpNanos = mid - c.start;
                c.udpNanos = c.end - mid;
                c.seqAtEnd = udpLoad.seqs();
                changes.add(c);
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
}
