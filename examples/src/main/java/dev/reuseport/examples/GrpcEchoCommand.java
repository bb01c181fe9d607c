package dev.reuseport.examples;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.grpc.GrpcReuseport;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code grpc-echo}: gRPC's Netty server on a reuseport group ({@link GrpcReuseport}) with a unary and a
 * server-streaming method ({@link GrpcEcho}). Without {@code --serve} it drives its own clients (a new
 * connection for every unary + streaming pair, 5 s deadlines) through {@code --restarts} restarts and as many
 * resizes, prints the per-worker table and exits 0 when no call failed. With {@code --serve} it serves
 * (optionally with a control socket, and taking over from another process with {@code --take-over}).
 */
@Command(name = "grpc-echo", mixinStandardHelpOptions = true,
        description = "gRPC echo (unary + server streaming) on a reuseport group; a self-driven demo through "
                + "restarts and resizes unless --serve.")
final class GrpcEchoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--workers", defaultValue = "4", description = "workers, and event loops (default ${DEFAULT-VALUE})")
    int workers;

    @Mixin
    ServeOptions opts;

    @Option(names = "--restarts", defaultValue = "10", description = "demo: restarts, and resizes, under load "
            + "(default ${DEFAULT-VALUE})")
    int restarts;

    @Option(names = "--plain", description = "with --serve: gRPC on its own listener (NettyServerBuilder.forAddress, "
            + "epoll), no group; for comparisons")
    boolean plain;

    @Option(names = "--commands", description = "with --serve: read commands from standard input (restart, "
            + "resize <n>; each answered DONE ...) and stop at its end")
    boolean commands;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ReuseportGroup.Builder b = opts.builder(workers);
        if (restarts < 0 || restarts > 10_000) {
            throw new ParameterException(spec.commandLine(), "--restarts " + restarts + " is not accepted; accepted: "
                    + "0..10000");
        }
        if (plain && !opts.serve) {
            throw new ParameterException(spec.commandLine(), "--plain needs --serve");
        }
        if (plain) {
            return servePlain(out);
        }
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(workers, EpollIoHandler.newFactory());
        GrpcEcho echo = new GrpcEcho();
        try (ReuseportGroup g = opts.open(b)) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(echo.service()).build().start();
            try {
                out.println("reuseport grpc-echo on " + g.localAddress() + ", " + g.workers().size()
                        + " workers, one epoll event loop each; methods echo.Echo/Say (unary), echo.Echo/Count "
                        + "(server streaming)");
                out.flush();
                return opts.serve ? serve(out, g) : demo(out, g, echo);
            } finally {
                server.shutdown();
                if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                    server.shutdownNow();
                }
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** gRPC alone: its own epoll listener on the port, the same loops, the same service. */
    private int servePlain(PrintWriter out) throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(workers, EpollIoHandler.newFactory());
        try {
            Server server = io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress(opts.address, opts.port))
                    .channelType(io.netty.channel.epoll.EpollServerSocketChannel.class)
                    .bossEventLoopGroup(loops).workerEventLoopGroup(loops)
                    .addService(new GrpcEcho().service()).build().start();
            try {
                out.println("READY " + server.getPort() + " grpc on its own listener, " + workers + " epoll loops");
                out.flush();
                commands(out, null);
                return 0;
            } finally {
                server.shutdown();
                if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                    server.shutdownNow();
                }
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** With --commands: serves standard input's commands until its end; without: waits forever. */
    private void commands(PrintWriter out, ReuseportGroup g) throws Exception {
        if (!commands) {
            new CountDownLatch(1).await();
            return;
        }
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
                java.nio.charset.StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split("\\s+");
            try {
                if (g == null) {
                    out.println("DONE no group");
                } else if (w[0].equals("restart")) {
                    g.restart();
                    out.println("DONE restarted " + g.restarts());
                } else if (w[0].equals("resize") && w.length == 2) {
                    g.resize(Integer.parseInt(w[1]));
                    out.println("DONE resized " + g.workers().size());
                } else {
                    out.println("DONE unknown command '" + line + "'; accepted: restart, resize <n>");
                }
            } catch (java.io.IOException | RuntimeException e) {
                out.println("DONE failed: " + e);
            }
            out.flush();
        }
    }

    private int serve(PrintWriter out, ReuseportGroup g) throws Exception {
        Path ctl = opts.controlPath();
        if (ctl == null) {
            out.println("READY " + g.localAddress().getPort() + " grpc on " + g);
            out.flush();
            commands(out, g);
            return 0;
        }
        try (ControlSocket cs = opts.serveControl(g)) {
            out.println("control socket " + ctl);
            out.println("READY " + g.localAddress().getPort());
            out.flush();
            while (!cs.awaitHandOff(Duration.ofSeconds(1))) {
                // serving
            }
            out.println("handed off; the calls in flight finish before the server shuts down");
            out.flush();
            return 0;
        }
    }

    private int demo(PrintWriter out, ReuseportGroup g, GrpcEcho echo) throws Exception {
        InetSocketAddress target = g.localAddress();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<Thread> clients = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        for (int t = 0; t < 4; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (int i = 0; !stop.get() && System.nanoTime() < deadline; i++) {
                    ManagedChannel ch = NettyChannelBuilder.forAddress(target).usePlaintext().build();
                    try {
                        GrpcEcho.say(ch, id + "/" + i, 5000);
                        GrpcEcho.count(ch, 5, 5000);
                        ok.incrementAndGet();
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                        out.println("failed call: " + e);
                    } finally {
                        ch.shutdownNow();
                    }
                }
            }, "grpc-client-" + t);
            th.start();
            clients.add(th);
        }
        try {
            Thread.sleep(500);
            for (int i = 0; i < restarts; i++) {
                g.restart();
                Thread.sleep(50);
                g.resize(i % 2 == 0 ? Math.max(1, workers / 2) : workers);
                Thread.sleep(50);
            }
            Thread.sleep(300);
        } finally {
            stop.set(true);
            for (Thread th : clients) {
                th.join(10_000);
            }
        }
        out.printf("%-5s %10s%n", "slot", "accepted");
        for (WorkerStats s : g.stats()) {
            out.printf("%-5d %10d%n", s.slot(), s.accepted());
        }
        out.printf("%d restarts and %d resizes; %d unary+streaming pairs answered on new connections, %d failed; "
                + "%d calls served%n", g.restarts(), restarts, ok.get(), failed.get(), echo.calls());
        boolean good = failed.get() == 0 && ok.get() > 0;
        out.println(good ? "OK: every call answered through the restarts and resizes" : "FAILED: see above");
        return good ? 0 : 1;
    }
}
