package dev.reuseport.netty;

import static dev.reuseport.netty.NettyTesting.LO;
import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerMetrics;
import dev.reuseport.WorkerStats;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.testkit.Descriptors;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Netty's epoll transport serving reuseport groups on the real kernel, over loopback. */
@Tag("kernel")
@Timeout(120)
class NettyAdapterTest {
    private static final int[] EIGHT = {0, 1, 2, 3, 4, 5, 6, 7};

    private EventLoopGroup loops;

    @BeforeEach
    void loops() {
        NettyTesting.assumeEpoll();
        loops = NettyTesting.epollLoops(8);
    }

    @AfterEach
    void stopLoops() {
        if (loops != null) {
            NettyTesting.shutdown(loops);
        }
    }

    private static ChannelInitializer<Channel> init(NettyTesting.SlotEcho echo) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(echo);
            }
        };
    }

    @Test
    void tcpConnectionsLandOnEveryEventLoopAndCountsMatchSteering() throws Exception {
        NettyTesting.assumeSteering();
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).policy(Policy.roundRobin()).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
            assertThat(g.capabilities().steering()).isEqualTo("bpf round-robin");
            assertThat(netty.channels()).hasSize(8);
            long[] answered = new long[256];
            for (int i = 0; i < 800; i++) {
                answered[NettyTesting.connect(g.localAddress())]++;
            }
            List<SteerProgram.SlotCounters> k = g.steeringCounters();
            List<WorkerStats> stats = g.stats();
            List<WorkerMetrics> metrics = g.newSampler().sample().workers();
            Set<EventLoop> distinct = new HashSet<>();
            for (int s : EIGHT) {
                assertThat(answered[s]).as("connections answered by slot %d", s).isEqualTo(100);
                assertThat(echo.served.get(s)).as("connections Netty served for slot %d", s).isEqualTo(100);
                assertThat(stats.get(s).accepted()).as("group's accepted count for slot %d", s).isEqualTo(100);
                assertThat(metrics.get(s).accepted()).as("sampler's accepted count for slot %d", s).isEqualTo(100);
                assertThat(k.get(s).selected()).as("program's selected count for slot %d", s).isEqualTo(100);
                // each worker's connections ran on that worker's loop, and only there
                assertThat(echo.loopsBySlot.get(s)).containsExactly(netty.loop(s));
                assertThat(netty.channel(s).eventLoop()).isSameAs(netty.loop(s));
                distinct.add(netty.loop(s));
            }
            assertThat(distinct).as("one loop per worker").hasSize(8);
        }
    }

    @Test
    void udpDatagramsLandOnEveryEventLoopAndCountsMatchSteering() throws Exception {
        NettyTesting.assumeSteering();
        NettyTesting.SlotDatagramEcho echo = new NettyTesting.SlotDatagramEcho();
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).workers(8).policy(Policy.roundRobin()).open();
             NettyReuseport netty = NettyReuseport.serveDatagrams(g, loops, echo)) {
            assertThat(g.capabilities().steering()).isEqualTo("bpf round-robin");
            long[] answered = new long[256];
            List<DatagramSocket> flows = new ArrayList<>();
            try {
                for (int f = 0; f < 4; f++) {
                    DatagramSocket s = new DatagramSocket(new InetSocketAddress(LO, 0));
                    s.setSoTimeout(5000);
                    flows.add(s);
                }
                for (int i = 0; i < 200; i++) {
                    for (DatagramSocket s : flows) {
                        answered[NettyTesting.ping(s, g.localAddress())]++;
                    }
                }
            } finally {
                flows.forEach(DatagramSocket::close);
            }
            List<SteerProgram.SlotCounters> k = g.steeringCounters();
            List<WorkerStats> stats = g.stats();
            Set<EventLoop> distinct = new HashSet<>();
            for (int s : EIGHT) {
                assertThat(answered[s]).as("datagrams answered by slot %d", s).isEqualTo(100);
                assertThat(stats.get(s).received()).as("group's received count for slot %d", s).isEqualTo(100);
                assertThat(stats.get(s).sent()).as("group's sent count for slot %d", s).isEqualTo(100);
                assertThat(k.get(s).selected()).as("program's selected count for slot %d", s).isEqualTo(100);
                assertThat(echo.loopsBySlot.get(s)).containsExactly(netty.loop(s));
                distinct.add(netty.loop(s));
            }
            assertThat(distinct).hasSize(8);
        }
    }

    @Test
    void fallbackWhileNettyServesKeepsServing() throws Exception {
        NettyTesting.assumeSteering();
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).policy(Policy.roundRobin()).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            long deadline = System.nanoTime() + 30_000_000_000L;
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread th = new Thread(() -> {
                    while (!stop.get() && System.nanoTime() < deadline) {
                        try {
                            NettyTesting.connect(g.localAddress());
                            ok.incrementAndGet();
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                    }
                });
                th.start();
                clients.add(th);
            }
            while (ok.get() < 400 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            g.fallbackToKernelHash("test: the candidate misbehaves");
            long selectedAtFallback = selected(g);
            long[] before = served(echo);
            long okAtFallback = ok.get();
            while (ok.get() < okAtFallback + 1600 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            stop.set(true);
            for (Thread th : clients) {
                th.join(10_000);
            }
            assertThat(failed.get()).as("failed connections").isZero();
            assertThat(ok.get()).isGreaterThanOrEqualTo(okAtFallback + 1600);
            assertThat(g.capabilities().steering()).isEqualTo("kernel hash");
            assertThat(g.policy()).isEqualTo(Policy.kernelHash());
            // the program stopped choosing (pass mode): the kernel hash spreads the rest over every worker
            assertThat(selected(g)).isEqualTo(selectedAtFallback);
            long[] after = served(echo);
            for (int s : EIGHT) {
                assertThat(after[s] - before[s]).as("slot %d served after the fallback", s).isPositive();
            }
            assertThat(netty.channels()).hasSize(8);
        }
    }

    private static long selected(ReuseportGroup g) throws IOException {
        return g.steeringCounters().stream().mapToLong(SteerProgram.SlotCounters::selected).sum();
    }

    private static long[] served(NettyTesting.SlotEcho echo) {
        long[] out = new long[8];
        for (int s : EIGHT) {
            out[s] = echo.served.get(s);
        }
        return out;
    }

    @Test
    void closeLeaksNoDescriptorWhateverTheOrder() throws Exception {
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        NettyTesting.SlotDatagramEcho dgram = new NettyTesting.SlotDatagramEcho();
        // the loops' own descriptors exist before the snapshot
        warmUp(echo);
        Set<String> before = Descriptors.sockets();
        // adapter closed first, then the group
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).open()) {
            try (NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
                for (int i = 0; i < 50; i++) {
                    NettyTesting.connect(g.localAddress());
                }
                g.restart();
                g.resize(4);
                g.resize(8);
                g.replaceWorker(2);
                for (int i = 0; i < 50; i++) {
                    NettyTesting.connect(g.localAddress());
                }
                assertThat(netty.channels()).hasSize(8);
            }
            // the group serves on its own again after the adapter let go
            assertThat(g.workers().get(0).accept(java.time.Duration.ZERO)).isNull();
        }
        // group closed first, then the adapter
        try (ReuseportGroup u = ReuseportGroup.udp().address(LO).workers(8).open()) {
            NettyReuseport netty = NettyReuseport.serveDatagrams(u, loops, dgram);
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(LO, 0))) {
                s.setSoTimeout(5000);
                NettyTesting.ping(s, u.localAddress());
                u.restart();
                NettyTesting.ping(s, u.localAddress());
            }
            u.close();
            assertThat(netty.channels()).isEmpty();
            netty.close();
        }
        Thread.sleep(200); // accepted connections close on their loops once the clients are gone
        assertThat(Descriptors.sockets()).as("sockets and BPF objects open after close, beyond those before")
                .isEqualTo(before);
    }

    /** Serves one group briefly, so that descriptors Netty and the JDK open lazily exist before a snapshot. */
    private void warmUp(NettyTesting.SlotEcho echo) throws IOException {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
            NettyTesting.connect(g.localAddress());
        }
    }

    @Test
    void restartLeavesNoOldSocketInTheKernelGroup() throws Exception {
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        NettyTesting.SlotDatagramEcho dgram = new NettyTesting.SlotDatagramEcho();
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(8).open();
             ReuseportGroup u = ReuseportGroup.udp().address(LO).workers(8).open();
             NettyReuseport nt = NettyReuseport.serve(t, loops, loops, init(echo));
             NettyReuseport nu = NettyReuseport.serveDatagrams(u, loops, dgram)) {
            int tp = t.localAddress().getPort();
            int up = u.localAddress().getPort();
            assertThat(NettyTesting.boundTo("tcp", tp, "0A")).as("TCP listeners on the port").isEqualTo(8);
            assertThat(NettyTesting.boundTo("udp", up, null)).as("UDP sockets on the port").isEqualTo(8);
            t.restart();
            u.restart();
            t.removeWorker(5);
            u.removeWorker(5);
            // a duplicate left open would keep an old socket bound (UDP) or listening (TCP)
            assertThat(NettyTesting.boundTo("tcp", tp, "0A")).as("TCP listeners on the port").isEqualTo(7);
            assertThat(NettyTesting.boundTo("udp", up, null)).as("UDP sockets on the port").isEqualTo(7);
            assertThat(nt.channels().keySet()).containsExactly(0, 1, 2, 3, 4, 6, 7);
            assertThat(nu.channels().keySet()).containsExactly(0, 1, 2, 3, 4, 6, 7);
            for (Channel c : nt.channels().values()) {
                assertThat(c.isActive()).isTrue();
            }
        }
    }

    @Test
    void removedWorkersQueueMigratesToNettySurvivors() throws Exception {
        removedWorkersQueueIsServed(true);
    }

    @Test
    void removedWorkersQueueIsHandedToNettyWhenTheKernelCannotMigrate() throws Exception {
        removedWorkersQueueIsServed(false);
    }

    /**
     * Slot 3 stops accepting (its channel's auto-read off), clients queue on it, then it is removed: every
     * queued client is answered by a survivor, through the kernel's migration or the group's hand-over.
     */
    private void removedWorkersQueueIsServed(boolean migration) throws Exception {
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).migration(migration).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
            if (migration) {
                NettyTesting.assumeSteering();
                assertThat(g.capabilities().steeringReason()).contains("queued connections migrate");
            } else {
                assertThat(g.steeringCounters()).as("no program attached").isEmpty();
            }
            Channel three = netty.channel(3);
            three.eventLoop().submit(() -> three.config().setAutoRead(false)).sync();
            List<Socket> clients = new ArrayList<>();
            try {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (g.stats().get(3).queueDepth() < 5 && clients.size() < 400 && System.nanoTime() < deadline) {
                    Socket s = new Socket(LO, g.localAddress().getPort());
                    s.setSoTimeout(5000);
                    s.getOutputStream().write('x');
                    clients.add(s);
                }
                int queued = g.stats().get(3).queueDepth();
                assertThat(queued).as("connections queued on slot 3").isGreaterThanOrEqualTo(5);
                long servedBefore = echo.total();
                g.removeWorker(3);
                int answered = 0;
                for (Socket s : clients) {
                    int slot = s.getInputStream().read();
                    int x = s.getInputStream().read();
                    if (slot >= 0 && x == 'x') {
                        answered++;
                        assertThat(slot).isNotEqualTo(3);
                    }
                }
                assertThat(answered).as("clients answered of %d (%d queued on slot 3)", clients.size(), queued)
                        .isEqualTo(clients.size());
                assertThat(echo.served.get(3)).as("slot 3 served nothing").isZero();
                assertThat(echo.total() - servedBefore).isGreaterThanOrEqualTo(queued);
                long accepted = g.stats().stream().mapToLong(WorkerStats::accepted).sum();
                assertThat(accepted).as("counted on the survivors").isGreaterThanOrEqualTo(echo.total() - echo.served.get(3));
            } finally {
                for (Socket s : clients) {
                    s.close();
                }
            }
        }
    }

    @Test
    void removedWorkersQueuedDatagramsAreAnsweredByASurvivor() throws Exception {
        NettyTesting.assumeSteering();
        NettyTesting.SlotDatagramEcho echo = new NettyTesting.SlotDatagramEcho();
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).workers(8).policy(Policy.roundRobin()).open();
             NettyReuseport netty = NettyReuseport.serveDatagrams(g, loops, echo)) {
            Channel three = netty.channel(3);
            three.eventLoop().submit(() -> three.config().setAutoRead(false)).sync();
            List<DatagramSocket> flows = new ArrayList<>();
            try {
                for (int f = 0; f < 80; f++) {
                    DatagramSocket s = new DatagramSocket(new InetSocketAddress(LO, 0));
                    s.setSoTimeout(5000);
                    flows.add(s);
                    s.send(new java.net.DatagramPacket(new byte[] {'y'}, 1, g.localAddress()));
                }
                // round robin: every 8th datagram waits, unread, on slot 3
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (echo.served.get(0) + echo.served.get(7) < 20 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(echo.served.get(3)).isZero();
                g.removeWorker(3);
                int answered = 0;
                for (DatagramSocket s : flows) {
                    java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[8], 8);
                    s.receive(p);
                    assertThat(p.getData()[0]).as("answered by a survivor").isNotEqualTo((byte) 3);
                    answered++;
                }
                assertThat(answered).isEqualTo(80);
                assertThat(g.stats().stream().mapToLong(WorkerStats::received).sum()).isEqualTo(80);
            } finally {
                flows.forEach(DatagramSocket::close);
            }
        }
    }

    @Test
    void addedWorkerGetsAChannelOnItsOwnLoop() throws Exception {
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(4).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, init(echo))) {
            assertThat(netty.channels().keySet()).containsExactly(0, 1, 2, 3);
            g.resize(8);
            assertThat(netty.channels().keySet()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
            for (int s : EIGHT) {
                assertThat(netty.channel(s).eventLoop()).isSameAs(netty.loop(s));
                assertThat(netty.channel(s).isActive()).isTrue();
            }
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (System.nanoTime() < deadline && java.util.Arrays.stream(served(echo)).anyMatch(c -> c == 0)) {
                NettyTesting.connect(g.localAddress());
            }
            assertThat(served(echo)).as("every worker, old and added, served").doesNotContain(0L);
        }
    }
}
