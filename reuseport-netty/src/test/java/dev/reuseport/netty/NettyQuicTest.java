package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.netty.check.NatRelay;
import dev.reuseport.netty.check.QuicEcho;
import dev.reuseport.netty.check.QuicEchoClients;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicSslContext;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real Netty QUIC server on a group's UDP sockets and real Netty QUIC clients on loopback: long-lived
 * connections opening a stream every 50 ms, each echo checked. With the QUIC dissector (cookie-bearing
 * server connection ids) every packet of a connection reaches the worker that holds it through resizes
 * and NAT rebinding; on the kernel hash the same scenarios break connections (the baselines prove the
 * scenarios are real).
 */
@Tag("kernel")
@Timeout(60)
class NettyQuicTest {
    private static final int CID = 16;
    private static EventLoopGroup serverLoops;
    private static EventLoopGroup clientLoops;
    private static QuicSslContext ssl;

    @BeforeAll
    static void setUp() throws Exception {
        NettyTesting.assumeEpoll();
        assumeTrue(Quic.isAvailable(), "Netty QUIC natives unavailable: " + Quic.unavailabilityCause());
        serverLoops = NettyTesting.epollLoops(8);
        clientLoops = NettyTesting.epollLoops(2);
        ssl = QuicEcho.selfSignedServerSsl();
    }

    @AfterAll
    static void tearDown() {
        if (serverLoops != null) {
            NettyTesting.shutdown(serverLoops);
            NettyTesting.shutdown(clientLoops);
        }
    }

    private static ReuseportGroup group(boolean cid) throws Exception {
        ReuseportGroup.Builder b = ReuseportGroup.udp().address(NettyTesting.LO).workers(4);
        return (cid ? b.policy(Policy.roundRobin()).dissector(Dissector.quic(CID)) : b.policy(Policy.kernelHash())).open();
    }

    /** Resizes 4 -> 8 -> 4 ... under 8 long-lived connections (streams every 50 ms, 1 s to echo); returns {broken, failed, ok, misrouted}. */
    private static long[] resizes(boolean cid, int resizes) throws Exception {
        QuicEcho.Echo echo = new QuicEcho.Echo();
        try (ReuseportGroup g = group(cid);
             NettyQuic quic = NettyQuic.serve(g, serverLoops, QuicEcho.serverCodec(ssl, echo));
             QuicEchoClients clients = new QuicEchoClients(50, 1_000)) {
            if (cid) {
                assertThat(g.capabilities().toString()).contains("steering=bpf");
            }
            clients.connect(clientLoops, g.localAddress(), 8);
            clients.start();
            for (int i = 0; i < resizes; i++) {
                g.resize(i % 2 == 0 ? 8 : 4);
                Thread.sleep(i == 0 ? 1_300 : 100); // the first longer than a stream's timeout
            }
            Thread.sleep(1_200); // every stream opened so far has had its time
            long[] r = {clients.broken(), clients.failed.get(), clients.ok.get(), quic.misrouted()};
            System.out.printf("quic resizes cid=%s: connections=%d resizes=%d streams_ok=%d streams_failed=%d broken=%d "
                    + "misrouted=%d cookie_packets=%d%n", cid, clients.connected(), resizes, r[2], r[1], r[0], r[3],
                    quic.cookiePackets());
            return r;
        }
    }

    @Test
    void quicConnectionsStayOnTheirWorkersThroughTwentyResizes() throws Exception {
        long[] r = resizes(true, 20);
        assertThat(r[2]).as("streams echoed").isGreaterThan(8 * 40);
        assertThat(r[1]).as("streams failed").isZero();
        assertThat(r[0]).as("connections broken").isZero();
        assertThat(r[3]).as("packets misrouted").isZero();
    }

    @Test
    void onTheKernelHashResizesBreakQuicConnections() throws Exception {
        long[] r = resizes(false, 1);
        assertThat(r[0]).as("connections broken on the kernel hash (the scenario is real)").isPositive();
    }

    /**
     * 8 connections through a relay that rebinds every second, {@code rebinds} times (2 with the dissector:
     * quiche's second move of a connection is the one that needs a spare connection id); returns
     * {broken, failed, ok, rebinds}.
     */
    private static long[] rebinding(boolean cid) throws Exception {
        int rebinds = cid ? 2 : 1;
        QuicEcho.Echo echo = new QuicEcho.Echo();
        try (ReuseportGroup g = group(cid);
             NettyQuic quic = NettyQuic.serve(g, serverLoops, QuicEcho.serverCodec(ssl, echo));
             NatRelay relay = new NatRelay(g.localAddress(), 1_000, 30_000);
             QuicEchoClients clients = new QuicEchoClients(50, 1_000)) {
            InetSocketAddress via = relay.address();
            clients.connect(clientLoops, via, 8);
            clients.start();
            relay.startRebinding(); // established connections move; a move during a handshake is another story
            long start = relay.rebinds.get();
            while (relay.rebinds.get() - start < rebinds) {
                Thread.sleep(50);
            }
            Thread.sleep(1_200);
            long[] r = {clients.broken(), clients.failed.get(), clients.ok.get(), relay.rebinds.get() - start};
            System.out.printf("quic rebinding cid=%s: connections=%d rebinds=%d streams_ok=%d streams_failed=%d "
                    + "timed_out=%d broken=%d misrouted=%d server_packets_to_old_ports=%d%n", cid, clients.connected(),
                    r[3], r[2], r[1], clients.timedOut.get(), r[0], quic.misrouted(), relay.viaOld.get());
            return r;
        }
    }

    @Test
    void natRebindingKeepsEveryConnectionOnItsWorker() throws Exception {
        long[] r = rebinding(true);
        assertThat(r[3]).as("rebinds").isGreaterThanOrEqualTo(2);
        assertThat(r[2]).as("streams echoed").isGreaterThan(8 * 30);
        assertThat(r[1]).as("streams failed").isZero();
        assertThat(r[0]).as("connections broken").isZero();
    }

    @Test
    void natRebindingBreaksConnectionsOnTheKernelHash() throws Exception {
        long[] r = rebinding(false);
        assertThat(r[3]).as("rebinds").isGreaterThanOrEqualTo(1);
        assertThat(r[0]).as("connections broken on the kernel hash (the scenario is real)").isPositive();
    }

    @Test
    void cookieIdsNameTheWorkerUnderTheGroupsKeyAndBadInputIsRefused() throws Exception {
        try (ReuseportGroup g = group(true)) {
            CookieConnectionIds ids = new CookieConnectionIds(g, 3, CID, 0);
            java.nio.ByteBuffer id = ids.newId(CID);
            byte[] b = new byte[id.remaining()];
            id.get(b);
            int[] gk = g.cookieGeneration();
            dev.reuseport.bpf.QuicCid.Cookie c = dev.reuseport.bpf.QuicCid.decode(b, CID, 0).orElseThrow();
            assertThat(c.worker()).isEqualTo(3);
            assertThat(c.generation()).isEqualTo(gk[0]);
            assertThat(c.matches(gk[1])).isTrue();
            assertThat(ids.newId(CID)).as("a fresh nonce each time").isNotEqualTo(java.nio.ByteBuffer.wrap(b));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ids.newId(20))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length 20; accepted: 16");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new CookieConnectionIds(g, 3, 8, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length 8; accepted: 9..20");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new CookieConnectionIds(g, 256, CID, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("slot 256");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NettyQuic.serve(g, serverLoops, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("codec null");
        }
        try (ReuseportGroup tcp = ReuseportGroup.tcp().address(NettyTesting.LO).workers(1).open()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NettyQuic.serve(tcp, serverLoops,
                    QuicEcho.serverCodec(ssl, new QuicEcho.Echo())))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a UDP group");
        }
    }
}
