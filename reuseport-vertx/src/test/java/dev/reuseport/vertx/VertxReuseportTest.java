package dev.reuseport.vertx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.testkit.RequestLoad;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Vert.x 5 HTTP server on a group: real requests through 10 restarts and 10 resizes under load. */
@Tag("kernel")
@Timeout(60)
class VertxReuseportTest {
    static final InetAddress LO = InetAddress.getLoopbackAddress();

    /**
     * {@code GET /hello} on a new connection (so it goes through some worker's accept), 5 s at most; returns
     * when the answer is {@code 200} with body {@code hello}, throws otherwise.
     */
    static void hello(InetSocketAddress target) throws IOException {
        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            if (!r.startsWith("HTTP/1.1 200") || !r.endsWith("hello")) {
                throw new IOException("GET /hello answered " + (r.isEmpty() ? "nothing" : r.replace("\r\n", " | ")));
            }
        }
    }

    /**
     * The first requests to a cold server (class loading, on a CPU other tests load too), before any load:
     * up to 3 tries, one must be answered.
     */
    static void warmUp(InetSocketAddress to) throws IOException {
        IOException last = null;
        for (int i = 0; i < 3; i++) {
            try {
                hello(to);
                return;
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    @Test
    void httpServerServesTheGroupThroughRestartsAndResizes() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(4, EpollIoHandler.newFactory());
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(4).backlog(1024).open()) {
            Vertx vertx = Vertx.builder().withTransport(VertxReuseport.transport(g, loops)).build();
            try {
                HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end("hello"))
                        .listen(g.localAddress().getPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
                assertThat(server.actualPort()).isEqualTo(g.localAddress().getPort());
                warmUp(g.localAddress());
                long before = g.stats().stream().mapToLong(WorkerStats::accepted).sum();
                for (int i = 0; i < 8; i++) {
                    hello(g.localAddress());
                }
                assertThat(g.stats().stream().mapToLong(WorkerStats::accepted).sum() - before)
                        .as("connections the group's workers accepted").isEqualTo(8);
                try (RequestLoad load = RequestLoad.start("vertx-client", 4, Duration.ofSeconds(40),
                        (c, i) -> hello(g.localAddress()))) {
                    // 10 restarts and 10 resizes (4 -> 2 -> 4 ...), each followed by answered requests
                    load.underRestartsAndResizes("vertx", 20, i -> g.restart(), i -> g.resize(i % 2 == 0 ? 2 : 4));
                }
                assertThat(g.restarts()).isGreaterThanOrEqualTo(10);
                assertThat(g.workers()).hasSize(4); // 20 changes: 2, 4, 2, ... 4 workers
                server.close().await(10, TimeUnit.SECONDS);
            } finally {
                vertx.close().await(10, TimeUnit.SECONDS);
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aSuppliedGroupIsAskedForOnlyWhenTheServerListens() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(2).open()) {
            AtomicInteger asked = new AtomicInteger();
            Vertx vertx = Vertx.builder().withTransport(VertxReuseport.transport(() -> {
                asked.incrementAndGet();
                return g;
            }, loops)).build();
            Vertx empty = Vertx.builder().withTransport(VertxReuseport.transport(() -> null, loops)).build();
            try {
                HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end("hello"));
                assertThat(asked).as("times the group was asked for before listen").hasValue(0);
                server.listen(g.localAddress().getPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
                assertThat(asked).as("times the group was asked for by listen").hasValue(1);
                warmUp(g.localAddress());
                assertThat(g.stats().stream().mapToLong(WorkerStats::accepted).sum())
                        .as("connections the group's workers accepted").isPositive();
                // a supplier with no group to give fails the listen, saying what it accepts
                assertThatThrownBy(() -> empty.createHttpServer().requestHandler(r -> r.response().end("x"))
                        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS))
                        .hasStackTraceContaining("accepted: an open TCP ReuseportGroup");
            } finally {
                empty.close().await(10, TimeUnit.SECONDS);
                vertx.close().await(10, TimeUnit.SECONDS);
            }
            assertThatThrownBy(() -> VertxReuseport.transport((Supplier<ReuseportGroup>) null, loops))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("group supplier null");
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
