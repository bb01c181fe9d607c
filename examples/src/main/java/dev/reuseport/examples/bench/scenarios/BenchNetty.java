package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.examples.LoadGenerator;
import dev.reuseport.examples.NettyEcho;
import dev.reuseport.examples.bench.harness.ChildJvm;
import dev.reuseport.examples.bench.harness.CpuSample;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.netty.NettyReuseport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench netty}: the same Netty echo server (8 epoll event loops, each connection served on the loop
 * that accepted it) on two kinds of listeners: (a) Netty's own, 8 {@link EpollServerSocketChannel}s bound
 * with {@link EpollChannelOption#SO_REUSEPORT}, one per loop, the kernel hash choosing; (b) this library's
 * 8-worker group with {@link Policy#consistent()} (or {@code --policy}), served through
 * {@link NettyReuseport}. Each server runs
 * in its own child JVM, both from the start; this process is the client (a connection per request: connect,
 * 64 bytes, half-close, read the echo, close, as {@code bench accept} does) and drives them in
 * alternating rounds (ABBA order). conn/s is the median of the rounds; spread is max/mean of the
 * connections each event loop accepted over all measured rounds (per round in the table).
 */
@Command(name = "netty", mixinStandardHelpOptions = true,
        description = "Netty echo on Netty's own SO_REUSEPORT listeners vs on a reuseport group (consistent), "
                + "alternating rounds: conn/s and spread over the event loops.")
public final class BenchNetty implements Callable<Integer> {
    private static final String[] IMPLS = {"plain", "reuseport"};

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "7", description = "rounds per server (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "3", description = "measured seconds per round (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1", description = "warm-up seconds per round (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--workers", defaultValue = "8", description = "event loops and listeners per server (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--clients", defaultValue = "8", description = "client threads (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--policy", defaultValue = "consistent",
            description = "the group's steering policy (default ${DEFAULT-VALUE}); the RESULT keys keep their names")
    String policy;

    @Option(names = "--max-others", defaultValue = "10",
            description = "a round in which other processes used more than this %% of the CPUs is marked * "
                    + "(default ${DEFAULT-VALUE})")
    double maxOthers;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (rounds < 1 || workers < 1 || clients < 1 || seconds <= 0 || warmup < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--rounds, --workers and --clients "
                    + "must be 1 or more, --seconds above 0, --warmup 0 or more");
        }
        ChildJvm[] child = new ChildJvm[2];
        try {
            for (int i = 0; i < 2; i++) {
                child[i] = ChildJvm.start(List.of(), "bench", "netty-server", "--impl", IMPLS[i], "--workers",
                        Integer.toString(workers), "--policy", policy);
            }
            InetSocketAddress[] target = new InetSocketAddress[2];
            for (int i = 0; i < 2; i++) {
                String[] ready = child[i].ready().split(" ", 2);
                target[i] = new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(ready[0]));
                out.printf("%-10s port %s, %s%n", IMPLS[i], ready[0], ready.length > 1 ? ready[1] : "");
            }
            out.printf("%d event loops per server, %d client threads, a connection per request (64 B echoed); "
                    + "%.1f s + %.1f s warm-up per round; servers in child JVMs, clients here%n%n", workers, clients,
                    seconds, warmup);
            double[][] rates = new double[2][rounds];
            long[][] totals = new long[2][workers];
            long failed = 0;
            int disturbed = 0;
            out.printf("%-6s %-10s %10s %7s %9s %9s %11s  %s%n", "round", "server", "conn/s", "failed", "accepted",
                    "max/mean", "cpu% oth", "per loop");
            Progress progress = new Progress(spec.commandLine().getErr(), "netty");
            for (int r = 0; r < rounds; r++) {
                progress.phase("round " + (r + 1) + " of " + rounds);
                // ABBA: the first server of a round alternates, so a trend in the machine's load favours neither
                for (int i : r % 2 == 0 ? new int[] {0, 1} : new int[] {1, 0}) {
                    LoadGenerator.tcp(target[i], Integer.MAX_VALUE, clients, 64, warmup);
                    long[] c0 = counts(child[i]);
                    CpuSample cpu0 = CpuSample.now();
                    long kids0 = child[0].cpuNanos() + child[1].cpuNanos();
                    LoadGenerator.Result res = LoadGenerator.tcp(target[i], Integer.MAX_VALUE, clients, 64, seconds);
                    CpuSample cpu1 = CpuSample.now();
                    long kids1 = child[0].cpuNanos() + child[1].cpuNanos();
                    long[] c1 = counts(child[i]);
                    long[] d = new long[workers];
                    for (int k = 0; k < workers; k++) {
                        d[k] = c1[k] - c0[k];
                        totals[i][k] += d[k];
                    }
                    double kidsPct = kids0 < 0 || kids1 < 0 ? 0 : 100.0 * (kids1 - kids0)
                            / ((cpu1.wallNanos() - cpu0.wallNanos()) * (double) Runtime.getRuntime().availableProcessors());
                    double others = Math.max(0, cpu0.othersPct(cpu1) - kidsPct);
                    boolean busy = others > maxOthers;
                    disturbed += busy ? 1 : 0;
                    rates[i][r] = res.rate();
                    failed += res.failed();
                    out.printf(Locale.ROOT, "%-6s %-10s %10.0f %7d %9d %9s %11.0f  %s%n", (r + 1) + (busy ? "*" : ""),
                            IMPLS[i], res.rate(), res.failed(), Stats.sum(d),
                            Stats.fmt(Stats.maxOverMean(d), 3), others,
                            Arrays.stream(d).mapToObj(Long::toString).collect(Collectors.joining(" ")));
                    out.flush();
                }
            }
            double plain = Stats.median(rates[0]);
            double lib = Stats.median(rates[1]);
            double plainSpread = Stats.maxOverMean(totals[0]);
            double libSpread = Stats.maxOverMean(totals[1]);
            out.println();
            out.printf(Locale.ROOT, "median conn/s over %d rounds of %.1f s: netty_plain %.0f, netty_reuseport %.0f "
                    + "-> ratio %.3f; failed connections %d%n", rounds, seconds, plain, lib, lib / plain, failed);
            out.printf(Locale.ROOT, "spread (max/mean connections per event loop, all rounds): netty_plain %s, "
                    + "netty_reuseport %s%n", Stats.fmt(plainSpread, 3), Stats.fmt(libSpread, 3));
            if (disturbed > 0) {
                out.println("NOTE " + disturbed + " round(s) marked * had other processes using more than " + maxOthers
                        + "% of the CPUs");
            }
            new Result("netty").put("netty_plain", plain, 0).put("netty_reuseport", lib, 0).put("ratio", lib / plain, 3)
                    .put("netty_plain_spread", plainSpread, 3).put("netty_reuseport_spread", libSpread, 3).print(out);
            return 0;
        } finally {
            for (ChildJvm c : child) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    private long[] counts(ChildJvm c) throws java.io.IOException {
        long[] out = new long[workers];
        String[] f = c.ask("counts", "COUNTS ").split(",");
        for (int i = 0; i < workers; i++) {
            out[i] = Long.parseLong(f[i]);
        }
        return out;
    }

    /**
     * One server of {@code bench netty}, in a child JVM: prints {@code READY <port> <steering>}, answers
     * {@code counts} with {@code COUNTS n0,n1,...} (connections per event loop so far), stops when stdin closes.
     */
    @Command(name = "netty-server", hidden = true)
    public static final class Server implements Callable<Integer> {
        @Option(names = "--impl", required = true)
        String impl;

        @Option(names = "--workers", defaultValue = "8")
        int workers;

        @Option(names = "--policy", defaultValue = "consistent")
        String policy;

        @Override
        public Integer call() throws Exception {
            InetAddress lo = InetAddress.getLoopbackAddress();
            NettyEcho netty = new NettyEcho(workers, false);
            List<Channel> listeners = new ArrayList<>();
            ReuseportGroup group = null;
            NettyReuseport served = null;
            try {
                String steering;
                int port;
                if (impl.equals("plain")) {
                    port = 0;
                    for (EventExecutor e : netty.loops()) {
                        EventLoop loop = (EventLoop) e;
                        Channel ch = new ServerBootstrap().group(loop, loop).channel(EpollServerSocketChannel.class)
                                .option(EpollChannelOption.SO_REUSEPORT, true)
                                .option(ChannelOption.SO_BACKLOG, 1024)
                                .childHandler(netty.childInitializer())
                                .bind(lo, port).sync().channel();
                        listeners.add(ch);
                        port = ((InetSocketAddress) ch.localAddress()).getPort();
                    }
                    steering = "Netty's own " + listeners.size() + " EpollServerSocketChannels with SO_REUSEPORT "
                            + "(kernel hash)";
                } else if (impl.equals("reuseport")) {
                    group = ReuseportGroup.tcp().address(lo).port(0).workers(workers).backlog(1024)
                            .policy(Policy.parse(policy)).open();
                    served = NettyReuseport.serve(group, netty.loops(), netty.loops(), netty.childInitializer());
                    port = group.localAddress().getPort();
                    steering = "reuseport group, steering " + group.capabilities().steering() + " ("
                            + group.capabilities().steeringReason() + ")";
                } else {
                    throw new IllegalArgumentException("--impl " + impl + "; accepted: plain, reuseport");
                }
                System.out.println("READY " + port + " " + steering);
                System.out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.equals("counts")) {
                        System.out.println("COUNTS " + Arrays.stream(netty.perLoop()).mapToObj(Long::toString)
                                .collect(Collectors.joining(",")));
                        System.out.flush();
                    }
                }
                return 0;
            } finally {
                for (Channel ch : listeners) {
                    ch.close().syncUninterruptibly();
                }
                if (served != null) {
                    served.close();
                }
                if (group != null) {
                    group.close();
                }
                netty.shutdown();
            }
        }
    }
}
