package dev.reuseport.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.netty.GroupServerChannel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** gRPC's Netty server on a group: real calls through real sockets, restarts and resizes under load. */
@Tag("kernel")
@Timeout(60)
class GrpcReuseportTest {
    static final InetAddress LO = InetAddress.getLoopbackAddress();
    private EventLoopGroup loops;

    @BeforeEach
    void loops() {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        loops = new MultiThreadIoEventLoopGroup(4, EpollIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        if (loops != null) {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A fresh connection for each pair of calls, so each one goes through a worker's accept. */
    static void freshCall(InetSocketAddress target, String tag) throws InterruptedException {
        ManagedChannel ch = NettyChannelBuilder.forAddress(target).usePlaintext().build();
        try {
            EchoGrpc.both(ch, tag);
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void unaryAndStreamingCallsAreAcceptedByTheGroupsWorkers() throws Exception {
        EchoGrpc echo = new EchoGrpc();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(4).open()) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(echo.service()).build().start();
            try {
                assertThat(List.<Object>copyOf(server.getListenSockets())).containsExactly(g.localAddress());
                for (int i = 0; i < 16; i++) {
                    freshCall(g.localAddress(), "hello " + i);
                }
                long accepted = g.stats().stream().mapToLong(WorkerStats::accepted).sum();
                assertThat(accepted).as("connections the workers counted").isEqualTo(16);
                assertThat(g.stats().stream().filter(s -> s.accepted() > 0).count())
                        .as("workers that accepted: %s", g.stats()).isGreaterThan(1);
                assertThat(echo.calls.get()).isEqualTo(32);
            } finally {
                server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
            }
            // the sockets are the group's again: nothing of gRPC listens, the group is whole
            assertThat(g.workers()).hasSize(4);
        }
    }

    @Test
    void restartsAndResizesUnderLoadFailNoCall() throws Exception {
        EchoGrpc echo = new EchoGrpc();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(4).backlog(1024).open()) {
            Server server = GrpcReuseport.serverBuilder(g, loops).addService(echo.service()).build().start();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            List<Thread> clients = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            for (int t = 0; t < 4; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; !stop.get() && System.nanoTime() < deadline; i++) {
                        try {
                            freshCall(g.localAddress(), id + "/" + i);
                            ok.incrementAndGet();
                        } catch (RuntimeException e) {
                            failed.incrementAndGet();
                            System.out.println("failed call: " + e);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "grpc-client-" + t);
                th.start();
                clients.add(th);
            }
            try {
                awaitCalls(ok, failed, 8); // clients warmed up before the first change
                long before = ok.get();
                for (int i = 0; i < 3; i++) {
                    g.restart();
                    Thread.sleep(100);
                    g.resize(i % 2 == 0 ? 2 : 4);
                    Thread.sleep(100);
                }
                awaitCalls(ok, failed, 8);
                assertThat(ok.get() - before).as("calls answered during the changes").isGreaterThan(8);
            } finally {
                stop.set(true);
                for (Thread th : clients) {
                    th.join(10_000);
                }
                server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
            }
            System.out.println("grpc restarts/resizes: ok=" + ok + " failed=" + failed + " restarts=" + g.restarts());
            assertThat(failed.get()).isZero();
            assertThat(ok.get()).isGreaterThan(16);
            assertThat(g.restarts()).isGreaterThanOrEqualTo(3);
        }
    }

    /** Waits (at most 10 s) until {@code n} more calls were answered, or one failed. */
    static void awaitCalls(AtomicLong ok, AtomicLong failed, int n) throws InterruptedException {
        long target = ok.get() + n;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ok.get() < target && failed.get() == 0 && System.nanoTime() < end) {
            Thread.sleep(10);
        }
    }

    @Test
    void anotherPortOrAUdpGroupIsRefusedNamingIt() throws Exception {
        try (ReuseportGroup udp = ReuseportGroup.udp().address(LO).workers(1).open()) {
            assertThatThrownBy(() -> GrpcReuseport.serverBuilder(udp, loops))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is UDP");
        }
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(2).open()) {
            int other = g.localAddress().getPort() == 65000 ? 65001 : 65000;
            Server s = io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress(LO, other))
                    .channelFactory(() -> new GroupServerChannel(g, loops))
                    .bossEventLoopGroup(loops).workerEventLoopGroup(loops)
                    .addService(new EchoGrpc().service()).build();
            assertThatThrownBy(s::start).isInstanceOf(IOException.class)
                    .hasStackTraceContaining("cannot bind " + new InetSocketAddress(LO, other));
            s.shutdownNow();
        }
    }
}
