package dev.reuseport.vertx;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.transport.Transport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A Vert.x HTTP server ({@code GET} anything answers {@code hello}) on a group in a child JVM, for
 * {@link VertxCrossProcessHandoffTest}.
 * {@code old <ctl>}: opens a 2-worker group on 127.0.0.1, serves Vert.x on it and the control socket at
 * {@code ctl}, prints {@code READY <port>}; once handed off prints {@code HANDED-OFF}, shuts its HTTP server
 * down gracefully (the requests it holds finish) and exits 0.
 * {@code spare <ctl>}: loads Vert.x (one request to a throwaway server on its own port), builds its Vert.x
 * and HTTP server on {@code VertxReuseport.transport(Supplier, loops)} (the group is asked for at listen),
 * prints {@code STARTED} and waits for a line on standard input: {@code go} takes the group over from the process
 * serving {@code ctl} (no fallback: a failed hand-off fails), serves the control socket there and Vert.x on
 * the group, prints {@code TOOK-OVER <workers>} and {@code READY <port>}; {@code fresh <port>} opens a new
 * group of its own on {@code port} (no hand-off, as a restart without one would), prints {@code READY <port>}.
 * Either way it then serves until its standard input ends.
 */
public final class VertxHandoffChild {
    private VertxHandoffChild() {
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try {
            switch (args[0]) {
                case "old" -> old(Path.of(args[1]), loops);
                case "spare" -> spare(Path.of(args[1]), loops);
                default -> throw new IllegalArgumentException("role " + args[0] + "; accepted: old, spare");
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        System.out.println("EXIT");
        System.out.flush();
    }

    /** Vert.x on {@code g}: an HTTP server answering {@code hello}, listening on the group's port. */
    static Served serve(ReuseportGroup g, EventLoopGroup loops) throws Exception {
        Served s = prepare(VertxReuseport.transport(g, loops));
        try {
            s.listen(g);
        } catch (Exception e) {
            s.vertx().close().await(10, TimeUnit.SECONDS);
            throw e;
        }
        return s;
    }

    /** Vert.x on {@code transport} and its HTTP server answering {@code hello}, not listening yet. */
    static Served prepare(Transport transport) {
        Vertx vertx = Vertx.builder().withTransport(transport).build();
        return new Served(vertx, vertx.createHttpServer().requestHandler(r -> r.response().end("hello")));
    }

    /** A Vert.x instance and its server. */
    record Served(Vertx vertx, HttpServer server) {
        /** Listens on {@code g}'s port. */
        void listen(ReuseportGroup g) throws Exception {
            server.listen(g.localAddress().getPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
        }

        /** Graceful: the server takes no more connections and finishes the requests it holds (at most 10 s). */
        void stop() throws Exception {
            try {
                server.shutdown(10, TimeUnit.SECONDS).await(15, TimeUnit.SECONDS);
            } finally {
                vertx.close().await(10, TimeUnit.SECONDS);
            }
        }
    }

    private static void old(Path ctl, EventLoopGroup loops) throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).backlog(1024).open();
             ControlSocket cs = ControlSocket.serve(g, ctl, false)) {
            Served s = serve(g, loops);
            try {
                System.out.println("READY " + g.localAddress().getPort());
                System.out.flush();
                // standard input ends (the test closed it, or died): stop, handed off or not
                java.util.concurrent.CountDownLatch inputEnded = new java.util.concurrent.CountDownLatch(1);
                Thread input = new Thread(() -> {
                    try {
                        while (System.in.read() >= 0) {
                            // the old child takes no orders
                        }
                    } catch (java.io.IOException e) {
                        // ended as well
                    }
                    inputEnded.countDown();
                });
                input.setDaemon(true);
                input.start();
                while (!cs.awaitHandOff(Duration.ofMillis(100))) {
                    if (inputEnded.getCount() == 0) {
                        return;
                    }
                }
                System.out.println("HANDED-OFF");
                System.out.flush();
                // no settle here: the hand-off returned only once Vert.x had read from every connection the
                // old group's workers accepted (GroupServerChannel), so the shutdown finishes them all
            } finally {
                s.stop();
            }
        }
    }

    private static void spare(Path ctl, EventLoopGroup loops) throws Exception {
        warmUp();
        // Vert.x and its server are built now; the group, taken over or opened on the order, only at listen
        AtomicReference<ReuseportGroup> group = new AtomicReference<>();
        Served s = prepare(VertxReuseport.transport(group::get, loops));
        System.out.println("STARTED");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String order = in.readLine();
        if (order == null) {
            s.vertx().close().await(10, TimeUnit.SECONDS);
            return;
        }
        boolean takeOver = order.equals("go");
        if (!takeOver && !order.startsWith("fresh ")) {
            throw new IllegalArgumentException("order " + order + "; accepted: go, fresh <port>");
        }
        ReuseportGroup g = null;
        try {
            g = takeOver ? ReuseportGroup.takeOver(ctl, null) : ReuseportGroup.tcp().address("127.0.0.1")
                    .port(Integer.parseInt(order.substring(6))).workers(2).backlog(1024).open();
            group.set(g);
            s.listen(g); // serving at once; the control socket is served right after
            try (ControlSocket cs = takeOver ? ControlSocket.serve(g, ctl, true) : null) {
                if (takeOver) {
                    System.out.println("TOOK-OVER " + g.workers().size());
                }
                System.out.println("READY " + g.localAddress().getPort());
                System.out.flush();
                while (in.read() >= 0) {
                    // serve until the test closes our standard input
                }
            }
        } finally {
            s.stop(); // Vert.x first, then the group it serves
            if (g != null) {
                g.close();
            }
        }
    }

    /**
     * Started beside the serving process: Vert.x's HTTP classes load now, on a throwaway server on a port of
     * its own, so that the group's first connections after a take-over do not wait for class loading.
     */
    private static void warmUp() throws Exception {
        Vertx vertx = Vertx.builder().withTransport(Transport.EPOLL).build();
        try {
            HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end("hello"))
                    .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
            try {
                VertxReuseportTest.hello(new InetSocketAddress("127.0.0.1", server.actualPort()));
            } catch (java.io.IOException e) {
                System.out.println("WARM-UP request failed (a loaded CPU; no matter): " + e);
            }
            server.close().await(10, TimeUnit.SECONDS);
        } finally {
            vertx.close().await(10, TimeUnit.SECONDS);
        }
    }
}
