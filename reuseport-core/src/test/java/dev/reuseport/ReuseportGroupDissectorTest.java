package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.QuicCid;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A group's dissector is chosen in the builder and switched at run time like a policy; the capability
 * report names the QUIC dissector's state; the dissector's counters reach the Prometheus text and the
 * bundle's maps.
 */
@Tag("kernel")
class ReuseportGroupDissectorTest {
    private static final int CID = QuicCid.MIN_LENGTH;

    @BeforeAll
    static void steeringIsAvailable() {
        List<Feature> f = Probes.steering();
        if (Sys.uid() != 0) {
            assumeTrue(Probes.steeringAvailable(f), "not root and eBPF steering unavailable: " + f);
        }
        assertThat(Probes.steeringAvailable(f)).as("probes as root: %s", f).isTrue();
    }

    @Test
    void quicCookieFromTheBuilderSteersEachDatagramToItsWorkerAndCounts() throws Exception {
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        try (ReuseportGroup g = ReuseportGroup.udp().address(lo).workers(4).policy(Policy.consistent())
                .dissector(Dissector.quic(CID)).open()) {
            assertThat(g.dissector()).isEqualTo(Dissector.quic(CID));
            assertThat(g.capabilities().feature(Probes.QUIC_DISSECTOR)).as("capability report names the QUIC dissector")
                    .hasValueSatisfying(f -> assertThat(f.isOn()).as("%s", f).isTrue());
            assertThat(g.capabilities().steeringReason()).contains("dissector quic").contains("in force");
            int[] cg = g.cookieGeneration();
            Random rnd = new Random(7);
            // every worker gets the datagrams of its cookies, whatever the source port's hash says
            for (int round = 0; round < 3; round++) {
                for (int w = 0; w < 4; w++) {
                    byte[] cid = QuicCid.encode(CID, 0, cg[0], w, cg[1], rnd);
                    assertThat(sendAndFind(g, lo, shortHeader(cid))).as("slot of the datagram for worker %d", w)
                            .isEqualTo(w);
                }
            }
            SteerProgram.DissectorCounters c = g.dissectorCounters().get(Dissector.Kind.QUIC);
            assertThat(c.cookie()).isEqualTo(12);
            // a forged cookie (wrong key) is "no cookie": still delivered, by the policy
            byte[] forged = QuicCid.encode(CID, 0, cg[0], 3, cg[1] ^ 0x5a5a5a5a, rnd);
            assertThat(sendAndFind(g, lo, shortHeader(forged))).isBetween(0, 3);
            assertThat(g.dissectorCounters().get(Dissector.Kind.QUIC).noCookie()).isEqualTo(1);
            String prom = PrometheusExporter.of(g).scrape();
            assertThat(prom).contains("reuseport_dissector_datagrams_total{protocol=\"udp\",port=\""
                    + g.localAddress().getPort() + "\",dissector=\"quic\",outcome=\"cookie\"} 12");
            assertThat(prom).contains("reuseport_dissector_info{");
            assertThat(g.describeMaps()).contains("dissector quic(").contains("cookie=12");
        }
    }

    @Test
    void dissectorSwitchesAtRunTimeAndOffAgain() throws Exception {
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        try (ReuseportGroup g = ReuseportGroup.udp().address(lo).workers(4).policy(Policy.consistent()).open()) {
            assertThat(g.dissector()).isEqualTo(Dissector.none());
            int[] cg = g.cookieGeneration();
            byte[] cid = QuicCid.encode(CID, 0, cg[0], 2, cg[1], new Random(1));
            g.dissector(Dissector.quic(CID));
            assertThat(sendAndFind(g, lo, shortHeader(cid))).isEqualTo(2);
            g.dissector(Dissector.none());
            assertThat(g.dissector()).isEqualTo(Dissector.none());
            long before = g.dissectorCounters().get(Dissector.Kind.QUIC).cookie();
            for (int i = 0; i < 8; i++) {
                sendAndFind(g, lo, shortHeader(cid));
            }
            assertThat(g.dissectorCounters().get(Dissector.Kind.QUIC).cookie()).as("no dissecting after none")
                    .isEqualTo(before);
            assertThat(g.audit().count("dissector")).isEqualTo(2);
        }
    }

    @Test
    void kernelHashPolicyLeavesTheDissectorDormantAndSaysSo() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.udp().address("127.0.0.1").workers(2).open()) {
            Capabilities c = g.dissector(Dissector.quic(CID));
            assertThat(c.steeringReason()).contains("dormant");
        }
    }

    @Test
    void tcpGroupRefusesADissectorNamingIt() {
        assertThatThrownBy(() -> ReuseportGroup.tcp().dissector(Dissector.quic(CID)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("quic(cidLength=9")
                .hasMessageContaining("accepted for TCP");
        assertThatThrownBy(() -> ReuseportGroup.udp().dissector(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("accepted");
    }

    private static ByteBuffer shortHeader(byte[] cid) {
        ByteBuffer b = ByteBuffer.allocateDirect(1 + cid.length + 24);
        b.put((byte) 0x40).put(cid).position(b.limit()).flip();
        return b;
    }

    /** Sends from a fresh socket (a fresh source port) and returns the slot whose socket got it, or -1. */
    private static int sendAndFind(ReuseportGroup g, InetAddress lo, ByteBuffer pkt) throws Exception {
        int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        try {
            Sys.send(fd, pkt.duplicate(), new InetSocketAddress(lo, g.localAddress().getPort()), SockAddr.AF_INET, 0);
        } finally {
            Sys.close(fd);
        }
        long until = System.nanoTime() + 3_000_000_000L;
        ByteBuffer rx = ByteBuffer.allocateDirect(128);
        while (System.nanoTime() < until) {
            for (Worker w : g.workers()) {
                int s = w.socket().acquire();
                try {
                    rx.clear();
                    if (Sys.receive(s, rx, Sys.MSG_DONTWAIT) != null) {
                        return w.slot();
                    }
                } finally {
                    w.socket().release();
                }
            }
            Thread.sleep(1);
        }
        return -1;
    }
}
