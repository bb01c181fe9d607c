package dev.reuseport.vertx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Vert.x 5 HTTP server on a group: real requests through restarts and resizes. */
@Tag("kernel")
@Timeout(60)
class VertxReuseportTest {
    static final InetAddress LO = InetAddress.getLoopbackAddress();

    static boolean get(InetSocketAddress target) {
        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return r.startsWith("HTTP/1.1 200") && r.endsWith("hello");
        } catch (IOException e) {
            System.out.println("failed request: " + e);
            return false;
        }
    }

    @Test
    void httpServerServesTheGroupThroughRestartsAndResizes() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(4, EpollIoHandler.newFactory());
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(4).open()) {
            Vertx vertx = Vertx.builder().withTransport(VertxReuseport.transport(g, loops)).build();
            try {
                HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end("hello"))
                        .listen(g.localAddress().getPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
                assertThat(server.actualPort()).isEqualTo(g.localAddress().getPort());
                for (int i = 0; i < 8; i++) {
                    assertThat(get(g.localAddress())).isTrue();
                }
                assertThat(g.stats().stream().mapToLong(WorkerStats::accepted).sum())
                        .as("connections the group's workers accepted").isEqualTo(8);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong ok = new AtomicLong();
                AtomicLong failed = new AtomicLong();
                List<Thread> clients = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    Thread th = new Thread(() -> {
                        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                        while (!stop.get() && System.nanoTime() < end) {
                            (get(g.localAddress()) ? ok : failed).incrementAndGet();
                        }
                    });
                    th.start();
                    clients.add(th);
                }
                Thread.sleep(200);
                for (int i = 0; i < 3; i++) {
                    g.restart();
                    Thread.sleep(50);
                    g.resize(i % 2 == 0 ? 2 : 4);
                    Thread.sleep(50);
                }
                Thread.sleep(200);
                stop.set(true);
                for (Thread th : clients) {
                    th.join(10_000);
                }
                System.out.println("vertx restarts/resizes: ok=" + ok + " failed=" + failed);
                assertThat(failed.get()).isZero();
                assertThat(ok.get()).isGreaterThan(10);
                server.close().await(10, TimeUnit.SECONDS);
            } finally {
                vertx.close().await(10, TimeUnit.SECONDS);
            }
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
