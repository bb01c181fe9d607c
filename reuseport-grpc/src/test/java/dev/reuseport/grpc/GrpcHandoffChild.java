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

/**
 * A gRPC server on a group in a child JVM, for {@link GrpcCrossProcessHandoffTest}.
 * {@code old <ctl>}: opens a 2-worker group on 127.0.0.1, serves {@link EchoGrpc} on it and the control
 * socket at {@code ctl}, prints {@code READY <port>}; once handed off prints {@code HANDED-OFF}, lets gRPC
 * finish the calls it holds (shutdown: GOAWAY to its connections) and exits 0.
 * {@code new <ctl>}: takes the group over from the process serving {@code ctl} (no fallback: a failed
 * hand-off fails) once standard input says {@code go} (it starts beside the old one and prints
 * {@code STARTED}), serves the control socket there and gRPC on the group, prints
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
        // started beside the old one: load gRPC's classes now, take over when the test says "go"
        io.grpc.netty.NettyServerBuilder.forPort(0).addService(new EchoGrpc().service());
        System.out.println("STARTED");
        System.out.flush();
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
                java.nio.charset.StandardCharsets.UTF_8));
        if (!"go".equals(in.readLine())) {
            return;
        }
        try (ReuseportGroup g = ReuseportGroup.takeOver(ctl, null);
             ControlSocket cs = ControlSocket.serve(g, ctl, true)) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(new EchoGrpc().service()).build().start();
            System.out.println("TOOK-OVER " + g.workers().size());
            System.out.println("READY " + g.localAddress().getPort());
            System.out.flush();
            while (in.read() >= 0) {
                // serve until the test closes our standard input
            }
            stop(server);
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
