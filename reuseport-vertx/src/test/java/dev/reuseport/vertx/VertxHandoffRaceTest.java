package dev.reuseport.vertx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.internal.VertxInternal;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The moment of a hand-off, opened wide on purpose: connections the old group's workers accepted but that
 * Vert.x has not taken in yet (still on their way from the worker's loop, through Vert.x's acceptor, to the
 * Vert.x event loop that registers them) when the old process, told it handed off, shuts its server down.
 * Vert.x's shutdown closes what reaches its acceptor after it began (its balancer has no handler left) and
 * every HTTP/1 connection it has read no request from yet; each such connection is a failed request.
 *
 * <p>Deterministic: Vert.x's event loops are held busy while {@value #CONNECTIONS} clients connect and send
 * {@code GET /hello}, so the old group's workers accept them all and forward them, but none is registered;
 * then a second group in this process takes the first over through its control socket, and, as
 * {@link VertxHandoffChild} does, the old side shuts its Vert.x server down once
 * {@link ControlSocket#awaitHandOff} says it handed off. The loops are let go when that shutdown began, or
 * at the latest {@value #HOLD_AFTER_LET_GO_MILLIS} ms after the old group let go of its sockets. Every client
 * must get its answer.
 */
@Tag("kernel")
@Timeout(60)
class VertxHandoffRaceTest {
    static final int CONNECTIONS = 40;
    static final long HOLD_AFTER_LET_GO_MILLIS = 500;

    @Test
    void connectionsAcceptedJustBeforeAHandOffAreServedThoughTheServerShutsDown() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        Path dir = Files.createTempDirectory("rp-vertx-race", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path ctl = dir.resolve("ctl");
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        ExecutorService clients = Executors.newFixedThreadPool(CONNECTIONS);
        CountDownLatch release = new CountDownLatch(1);
        ReuseportGroup taken = null;
        Vertx vertx = null;
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(2).backlog(1024).open();
             ControlSocket cs = ControlSocket.serve(g, ctl, false)) {
            // a loop held for a few seconds is what this test does: no blocked-thread warnings for it
            vertx = Vertx.builder().with(new VertxOptions().setMaxEventLoopExecuteTime(30)
                    .setMaxEventLoopExecuteTimeUnit(TimeUnit.SECONDS)).withTransport(VertxReuseport.transport(g, loops))
                    .build();
            HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end("hello"))
                    .listen(g.localAddress().getPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
            InetSocketAddress target = g.localAddress();
            VertxReuseportTest.warmUp(target);

            // hold every Vert.x event loop (where accepted connections are registered and read)
            List<CountDownLatch> held = new ArrayList<>();
            for (EventExecutor e : ((VertxInternal) vertx).nettyEventLoopGroup()) {
                CountDownLatch running = new CountDownLatch(1);
                held.add(running);
                e.execute(() -> {
                    running.countDown();
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            for (CountDownLatch r : held) {
                assertThat(r.await(10, TimeUnit.SECONDS)).as("a Vert.x loop is held").isTrue();
            }
            long acceptedBefore = accepted(g);
            List<Future<?>> requests = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                requests.add(clients.submit(() -> {
                    hello(target);
                    return null;
                }));
            }
            long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (accepted(g) - acceptedBefore < CONNECTIONS && System.nanoTime() < end) {
                Thread.sleep(2);
            }
            assertThat(accepted(g) - acceptedBefore).as("connections the old group's workers took from the kernel "
                    + "while Vert.x's loops were held").isEqualTo(CONNECTIONS);

            // the loops go on when the old side's shutdown began, or a while after its group let go
            CountDownLatch shutdownBegan = new CountDownLatch(1);
            Thread releaser = new Thread(() -> {
                try {
                    long until = Long.MAX_VALUE;
                    while (!shutdownBegan.await(2, TimeUnit.MILLISECONDS) && System.nanoTime() < until) {
                        if (until == Long.MAX_VALUE && g.isClosed()) {
                            until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HOLD_AFTER_LET_GO_MILLIS);
                        }
                    }
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                } finally {
                    release.countDown();
                }
            }, "vertx-race-release");
            releaser.start();
            AtomicReference<Throwable> takeOverFailure = new AtomicReference<>();
            AtomicReference<ReuseportGroup> newGroup = new AtomicReference<>();
            Thread taker = new Thread(() -> {
                try {
                    newGroup.set(ReuseportGroup.takeOver(ctl, null));
                } catch (Throwable t) {
                    takeOverFailure.set(t);
                }
            }, "vertx-race-taker");
            taker.start();
            // the old side, as VertxHandoffChild: handed off, then a graceful shutdown
            assertThat(cs.awaitHandOff(Duration.ofSeconds(20))).as("the group was handed off").isTrue();
            io.vertx.core.Future<Void> stopped = server.shutdown(10, TimeUnit.SECONDS);
            shutdownBegan.countDown();
            taker.join(20_000);
            taken = newGroup.get();
            assertThat(takeOverFailure.get()).as("the take-over").isNull();
            assertThat(taken).as("the taken group").isNotNull();

            List<Throwable> failures = new ArrayList<>();
            for (Future<?> f : requests) {
                try {
                    f.get(20, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException x) {
                    failures.add(x.getCause());
                }
            }
            stopped.await(15, TimeUnit.SECONDS);
            releaser.join(5_000);
            System.out.println("vertx hand-off race: " + (CONNECTIONS - failures.size()) + " of " + CONNECTIONS
                    + " answered; failures " + failures);
            assertThat(failures).as("requests on connections accepted just before the hand-off").isEmpty();
        } finally {
            release.countDown();
            clients.shutdownNow();
            if (vertx != null) {
                vertx.close().await(10, TimeUnit.SECONDS);
            }
            if (taken != null) {
                taken.close();
            }
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            Files.deleteIfExists(ctl);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * {@code GET /hello} on a new connection, as {@link VertxReuseportTest#hello} but waiting up to 20 s for
     * the answer: the loops are held for the hand-off's length, which a loaded machine stretches.
     */
    private static void hello(InetSocketAddress target) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            if (!r.startsWith("HTTP/1.1 200") || !r.endsWith("hello")) {
                throw new java.io.IOException("GET /hello answered " + (r.isEmpty() ? "nothing"
                        : r.replace("\r\n", " | ")));
            }
        }
    }

    private static long accepted(ReuseportGroup g) throws java.io.IOException {
        return g.stats().stream().mapToLong(WorkerStats::accepted).sum();
    }
}
