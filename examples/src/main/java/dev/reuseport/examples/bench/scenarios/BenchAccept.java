package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.examples.EchoServer;
import dev.reuseport.examples.LoadGenerator;
import dev.reuseport.examples.bench.harness.ChildJvm;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.examples.bench.harness.TcpEcho;
import dev.reuseport.sys.internal.Native;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bench accept}: connections accepted and echoed per second by an 8-worker group on the FFM
 * backend, on the jnr backend, and by the same workers built from the JDK's own ServerSocketChannel with
 * SO_REUSEPORT — all three the same shape, a thread per worker that accepts and echoes inline
 * ({@code Worker.accept}, {@link TcpEcho}) — and, as a fourth row, the library's serving loop
 * ({@code group.serve}: epoll loops, a virtual thread per connection, as {@code echo} serves), so that its
 * price for short connections is in plain sight. Each server runs in its own child JVM (a backend is
 * chosen once per JVM); this process is the client for all of them, in alternating rounds; each figure is
 * the median of its rounds.
 */
@Command(name = "accept", mixinStandardHelpOptions = true,
        description = "Accept+echo rate: FFM vs jnr vs JDK ServerSocketChannel, alternating rounds.")
public final class BenchAccept implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "5", description = "rounds per server (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--seconds", defaultValue = "3", description = "measured seconds per round (default ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1.5", description = "warm-up seconds per round (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--workers", defaultValue = "8", description = "server workers (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--clients", defaultValue = "8", description = "client threads (default ${DEFAULT-VALUE})")
    int clients;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<String> impls = new ArrayList<>(List.of("ffm", "jnr", "jdk", "serve"));
        if (Runtime.version().feature() < 22) {
            out.println("JDK " + Runtime.version().feature() + " has no FFM: run with JDK 22+ to measure ffm");
            impls.remove("ffm");
            impls.remove("serve");
        }
        Map<String, double[]> rates = new LinkedHashMap<>();
        impls.forEach(i -> rates.put(i, new double[rounds]));
        long failed = 0;
        Progress progress = new Progress(spec.commandLine().getErr(), "accept");
        out.printf("%-6s %-5s %12s %8s%n", "round", "impl", "conn/s", "failed");
        for (int r = 0; r < rounds; r++) {
            progress.phase("round " + (r + 1) + " of " + rounds);
            for (String impl : impls) {
                List<String> jvm = impl.equals("jdk") ? List.of()
                        : List.of("-D" + Native.BACKEND_PROPERTY + "=" + (impl.equals("serve") ? "ffm" : impl));
                try (ChildJvm child = ChildJvm.start(jvm, "bench", "accept-server", "--impl", impl,
                        "--workers", Integer.toString(workers))) {
                    InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                            Integer.parseInt(child.ready()));
                    LoadGenerator.tcp(target, Integer.MAX_VALUE, clients, 64, warmup);
                    LoadGenerator.Result res = LoadGenerator.tcp(target, Integer.MAX_VALUE, clients, 64, seconds);
                    rates.get(impl)[r] = res.rate();
                    failed += res.failed();
                    out.printf("%-6d %-5s %12.0f %8d%n", r + 1, impl, res.rate(), res.failed());
                    out.flush();
                }
            }
        }
        double jdk = Stats.median(rates.get("jdk"));
        double ffm = rates.containsKey("ffm") ? Stats.median(rates.get("ffm")) : Double.NaN;
        double jnr = Stats.median(rates.get("jnr"));
        double serve = rates.containsKey("serve") ? Stats.median(rates.get("serve")) : Double.NaN;
        out.println();
        out.printf("median conn/s over %d rounds of %.1f s: ffm %.0f, jnr %.0f, jdk %.0f, serving loop %.0f; failed "
                + "connections %d%n", rounds, seconds, ffm, jnr, jdk, serve, failed);
        new Result("accept").put("ffm", ffm, 0).put("jnr", jnr, 0).put("jdk", jdk, 0).put("ffm_vs_jdk", ffm / jdk, 3)
                .put("jnr_vs_jdk", jnr / jdk, 3).put("serve", serve, 0).put("serve_vs_jdk", serve / jdk, 3).print(out);
        return 0;
    }

    /** The server side of one round, in a child JVM: prints {@code READY <port>}, serves until stdin closes. */
    @Command(name = "accept-server", hidden = true)
    public static final class Server implements Callable<Integer> {
        @Option(names = "--impl", required = true)
        String impl;

        @Option(names = "--workers", defaultValue = "8")
        int workers;

        @Override
        public Integer call() throws Exception {
            InetAddress lo = InetAddress.getLoopbackAddress();
            if (impl.equals("jdk")) {
                List<ServerSocketChannel> chans = new ArrayList<>();
                ServerSocketChannel first = ServerSocketChannel.open();
                first.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                first.bind(new InetSocketAddress(lo, 0), 1024);
                chans.add(first);
                int port = ((InetSocketAddress) first.getLocalAddress()).getPort();
                for (int i = 1; i < workers; i++) {
                    ServerSocketChannel c = ServerSocketChannel.open();
                    c.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                    c.bind(new InetSocketAddress(lo, port), 1024);
                    chans.add(c);
                }
                for (ServerSocketChannel c : chans) {
                    Thread t = new Thread(() -> serveJdk(c), "jdk-worker");
                    t.setDaemon(true);
                    t.start();
                }
                System.out.println("READY " + port);
                System.out.flush();
                waitForStdinClose();
                for (ServerSocketChannel c : chans) {
                    c.close();
                }
                return 0;
            }
            String backend = impl.equals("serve") ? "ffm" : impl;
            if (!Native.backendName().equals(backend)) {
                throw new IllegalStateException("asked for backend " + backend + " but " + Native.backendName()
                        + " is in use (" + Native.backendReason() + ")");
            }
            try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(workers).open();
                 AutoCloseable s = impl.equals("serve") ? new EchoServer(g, false, false) : new TcpEcho(g)) {
                System.out.println("READY " + g.localAddress().getPort());
                System.out.flush();
                waitForStdinClose();
            }
            return 0;
        }

        private static void waitForStdinClose() throws IOException {
            while (System.in.read() >= 0) {
                // the parent closes stdin to stop this server
            }
        }

        private static void serveJdk(ServerSocketChannel server) {
            ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
            while (true) {
                try (SocketChannel c = server.accept()) {
                    for (;;) {
                        buf.clear();
                        if (c.read(buf) < 0) {
                            break;
                        }
                        buf.flip();
                        while (buf.hasRemaining()) {
                            c.write(buf);
                        }
                    }
                } catch (ClosedChannelException e) {
                    return;
                } catch (IOException e) {
                    // a client that reset: next connection
                }
            }
        }
    }
}
