package dev.reuseport.grpc;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import io.grpc.Server;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A gRPC server on a group in a child JVM, for {@link GrpcCrossProcessHandoffTest}.
 * {@code old <ctl>}: opens a 2-worker group on 127.0.0.1, serves {@link EchoGrpc} on it and the control
 * socket at {@code ctl}, prints {@code READY <port>}; once handed off prints {@code HANDED-OFF}, lets gRPC
 * finish the calls it holds (shutdown: GOAWAY to its connections) and exits 0.
 * {@code new <ctl>}: builds its gRPC server on {@code GrpcReuseport.serverBuilder(Supplier, loops)} and prints
 * {@code STARTED} (it starts beside the old one); once standard input says {@code go}, takes the group over
 * from the process serving {@code ctl} (no fallback: a failed hand-off fails), starts the server on it and
 * serves the control socket there, prints
 * {@code TOOK-OVER <workers>} and {@code READY <port>}, and serves until its standard input ends.
 * {@code fresh <port>}: opens a new group of its own on {@code port} (no hand-off), prints {@code READY}
 * and serves until its standard input ends.
 */
public final class GrpcHandoffChild {
    private GrpcHandoffChild() {
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try {
            switch (args[0]) {
                case "old" -> old(Path.of(args[1]), loops);
                case "new" -> taker(Path.of(args[1]), loops);
                case "fresh" -> fresh(Integer.parseInt(args[1]), loops);
                default -> throw new IllegalArgumentException("role " + args[0] + "; accepted: old, new, fresh");
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        System.out.println("EXIT");
        System.out.flush();
    }

    private static void old(Path ctl, EventLoopGroup loops) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).backlog(1024).open();
             ControlSocket cs = ControlSocket.serve(g, ctl, false)) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(new EchoGrpc().service()).build().start();
            System.out.println("READY " + g.localAddress().getPort());
            System.out.flush();
            while (!cs.awaitHandOff(Duration.ofMillis(100))) {
                if (System.in.available() < 0) {
                    return;
                }
            }
            System.out.println("HANDED-OFF");
            System.out.flush();
            stop(server);
        }
    }

    private static void taker(Path ctl, EventLoopGroup loops) throws Exception {
        // started beside the old one: gRPC's server classes load now (one call to a throwaway server on a
        // group of its own), and the server is built on a group asked for only when it starts; the take-over,
        // when the test says "go", comes right before that start
        warmUp(loops);
        AtomicReference<ReuseportGroup> group = new AtomicReference<>();
        Server server = GrpcReuseport.serverBuilder(group::get, loops).addService(new EchoGrpc().service()).build();
        System.out.println("STARTED");
        System.out.flush();
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
                java.nio.charset.StandardCharsets.UTF_8));
        if (!"go".equals(in.readLine())) {
            return;
        }
        try (ReuseportGroup g = ReuseportGroup.takeOver(ctl, null)) {
            group.set(g);
            server.start(); // serving at once; the control socket is served right after
            try (ControlSocket cs = ControlSocket.serve(g, ctl, true)) {
                System.out.println("TOOK-OVER " + g.workers().size());
                System.out.println("READY " + g.localAddress().getPort());
                System.out.flush();
                while (in.read() >= 0) {
                    // serve until the test closes our standard input
                }
            } finally {
                stop(server);
            }
        }
    }

    /** One unary and one streaming call to a throwaway server on a 1-worker group of its own. */
    private static void warmUp(EventLoopGroup loops) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(1).open()) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(new EchoGrpc().service()).build().start();
            try {
                GrpcReuseportTest.freshCall(g.localAddress(), "warm-up");
            } catch (RuntimeException e) {
                System.out.println("WARM-UP call failed (a loaded CPU; no matter): " + e);
            } finally {
                server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static void fresh(int port, EventLoopGroup loops) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").port(port).workers(2).backlog(1024).open()) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(new EchoGrpc().service()).build().start();
            System.out.println("READY " + g.localAddress().getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the test closes our standard input
            }
            stop(server);
        }
    }

    private static void stop(Server server) throws InterruptedException {
        server.shutdown();
        if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
    }
}
