package dev.reuseport.examples;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.netty.NettyReuseport;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code netty-echo}: Netty's epoll transport serving a reuseport TCP group through
 * {@link NettyReuseport}, one event loop per worker: an echo server, or with {@code --http} a minimal
 * HTTP/1.1 200 for wrk. Without {@code --serve} it drives a short built-in load against itself, prints the
 * per-worker table (connections Netty served on each worker's loop, and what the group counted) and exits
 * 0 when every request was answered, every worker served some and the counts match. With {@code --quic} it
 * serves QUIC echo streams instead ({@link NettyQuicEcho}).
 */
@Command(name = "netty-echo", mixinStandardHelpOptions = true,
        description = "Netty (epoll) echo or HTTP server on a reuseport group; a self-driven demo unless --serve.")
final class NettyEchoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--workers", defaultValue = "8", description = "workers, and event loops (default ${DEFAULT-VALUE})")
    int workers;

    @Mixin
    ServeOptions opts;

    @Option(names = "--http", description = "answer each request with a minimal HTTP/1.1 200 (for wrk)")
    boolean http;

    @Option(names = "--connections", defaultValue = "2000", description = "demo: connections (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--drain-seconds", defaultValue = "5", description = "after handing off: how long the old process "
            + "lets Netty finish the connections it holds (default ${DEFAULT-VALUE})")
    int drainSeconds;

    @Option(names = "--quic", description = "QUIC echo streams (Netty QUIC, self-signed certificate) on a UDP group "
            + "with the QUIC dissector; with --take-over the new process serves a new socket generation and the old "
            + "one drains its connections")
    boolean quic;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ReuseportGroup.Builder b = opts.builder(workers);
        if (connections < 1) {
            throw new ParameterException(spec.commandLine(), "--connections " + connections + " is not accepted; "
                    + "accepted: 1 or more");
        }
        if (quic) {
            return NettyQuicEcho.run(out, opts, workers, connections, drainSeconds);
        }
        NettyEcho netty = new NettyEcho(workers, http);
        try (ReuseportGroup g = opts.open(b);
             NettyReuseport served = NettyReuseport.serve(g, netty.loops(), netty.loops(), netty.childInitializer())) {
            out.println("reuseport netty-echo on " + g.localAddress() + ", " + g.workers().size() + " workers on "
                    + workers + " epoll event loops" + (http ? ", HTTP responses" : ""));
            out.print(g.capabilities().toTable());
            out.println("receive path " + served.receivePath());
            out.flush();
            if (opts.serve) {
                return serve(out, g, netty);
            }
            return demo(out, g, served, netty);
        } finally {
            netty.shutdown();
        }
    }

    /**
     * Serves until interrupted or, with a control socket, until the group was handed to a new process;
     * then lets Netty finish what it holds (the adapter gave the sockets back when the group handed off).
     */
    private int serve(PrintWriter out, ReuseportGroup g, NettyEcho netty) throws Exception {
        java.nio.file.Path ctlPath = opts.controlPath();
        if (ctlPath == null) {
            out.println("READY " + g.localAddress().getPort());
            out.println("serving; Ctrl-C stops");
            out.flush();
            new CountDownLatch(1).await();
            return 0;
        }
        // the adapter gives each worker added by 'resize' its own channel: no onWorkersAdded needed
        try (dev.reuseport.ControlSocket cs = opts.serveControl(g)) {
            out.println("control socket " + ctlPath);
            out.println("READY " + g.localAddress().getPort());
            out.println("serving; Ctrl-C stops");
            out.flush();
            while (!cs.awaitHandOff(java.time.Duration.ofSeconds(1))) {
                // serving
            }
            out.println("handed off; draining for up to " + drainSeconds + " s");
            out.flush();
            long deadline = System.nanoTime() + java.time.Duration.ofSeconds(drainSeconds).toNanos();
            while (netty.open() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            out.println("drained (" + netty.open() + " connections still open); exiting");
            out.flush();
            return 0;
        }
    }

    private int demo(PrintWriter out, ReuseportGroup g, NettyReuseport served, NettyEcho netty) throws Exception {
        long answered;
        long failed;
        double rate;
        if (http) {
            long t0 = System.nanoTime();
            answered = 0;
            for (int i = 0; i < connections; i++) {
                if (httpOnce(g.localAddress())) {
                    answered++;
                }
            }
            failed = connections - answered;
            rate = answered / ((System.nanoTime() - t0) / 1e9);
        } else {
            LoadGenerator.Result r = LoadGenerator.tcp(g.localAddress(), connections, 8, 32, 60);
            answered = r.completed();
            failed = r.failed();
            rate = r.rate();
        }
        long[] perLoop = netty.perLoop();
        List<WorkerStats> stats = g.stats();
        out.println();
        out.printf("%-5s %-10s %10s %8s %14s%n", "slot", "event loop", "netty", "share", "group counted");
        long total = 0;
        boolean ok = true;
        for (WorkerStats s : stats) {
            int loop = netty.loopIndex(served.channel(s.slot()));
            long n = perLoop[loop];
            total += n;
            ok &= n > 0 && n == s.accepted();
            out.printf("%-5d %-10s %10d %7.1f%% %14d%n", s.slot(), "#" + loop, n,
                    100.0 * n / Math.max(1, connections), s.accepted());
        }
        out.printf("%-5s %-10s %10d%n", "total", "", total);
        out.printf("%s: %d connections, %d answered, %d failed, %.0f conn/s%n", http ? "http" : "tcp", connections,
                answered, failed, rate);
        ok &= failed == 0 && total == connections;
        out.println(ok ? "OK: every request answered, counts match, all " + stats.size() + " workers served"
                : "FAILED: see the table (a worker with 0, a failed request, or counts that differ)");
        return ok ? 0 : 1;
    }

    /** One HTTP/1.1 request with Connection: close; true on a 200 with the body. */
    static boolean httpOnce(InetSocketAddress target) {
        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + target.getHostString()
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return res.startsWith("HTTP/1.1 200 OK") && res.endsWith("\r\n\r\nok\n");
        } catch (IOException e) {
            return false;
        }
    }
}
