package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.Descriptors;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every bad input gets a typed error naming the value and what is accepted, and leaks nothing. */
@Tag("kernel")
class ReuseportGroupBadInputTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @ParameterizedTest
    @ValueSource(ints = {-1, 65536, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void portOutsideRangeIsRejected(int port) {
        assertThatThrownBy(() -> ReuseportGroup.tcp().port(port))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port " + port + " is out of range; accepted: 0..65535 (0 lets the kernel choose)");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -3, 257, 100_000})
    void workerCountOutsideRangeIsRejected(int workers) {
        assertThatThrownBy(() -> ReuseportGroup.udp().workers(workers))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("workers " + workers + " is out of range; accepted: 1..256");
    }

    @Test
    void boundsThemselvesAreAccepted() throws Exception {
        ReuseportGroup.tcp().port(0).port(65535).workers(1).workers(ReuseportGroup.MAX_WORKERS).backlog(1)
                .backlog(65535).receiveBuffer(0).receiveBuffer(1024);
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).workers(ReuseportGroup.MAX_WORKERS).open()) {
            assertThat(g.workers()).hasSize(256);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 65536})
    void backlogOutsideRangeIsRejected(int backlog) {
        assertThatThrownBy(() -> ReuseportGroup.tcp().backlog(backlog))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("backlog " + backlog + " is out of range; accepted: 1..65535");
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 1, 1023, (1 << 30) + 1})
    void receiveBufferOutsideRangeIsRejected(int bytes) {
        assertThatThrownBy(() -> ReuseportGroup.udp().receiveBuffer(bytes))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("receiveBuffer " + bytes + " is out of range; accepted: 0 (kernel default) or 1024..");
    }

    @ParameterizedTest
    @ValueSource(strings = {"example.com", "300.1.1.1", "1.2.3", "not an address"})
    void addressThatIsNotALiteralIsRejected(String address) {
        assertThatThrownBy(() -> ReuseportGroup.tcp().address(address))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("address '" + address + "' is not an IP literal; accepted:");
    }

    @Test
    void emptyOrNullAddressIsRejected() {
        assertThatThrownBy(() -> ReuseportGroup.tcp().address(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("address ' ' is empty; accepted:");
        assertThatThrownBy(() -> ReuseportGroup.tcp().address((InetAddress) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("address null is not an address");
    }

    @Test
    void addressNotOnThisHostIsNotAvailable() throws Exception {
        var before = Descriptors.sockets();
        assertThatThrownBy(() -> ReuseportGroup.tcp().address("192.0.2.1").port(0).workers(4).open())
                .isInstanceOf(AddressNotAvailableException.class)
                .hasMessageStartingWith("address 192.0.2.1 is not assigned to this host (bind: EADDRNOTAVAIL (99)")
                .hasMessageContaining("accepted: an address of a local interface, 0.0.0.0 or ::");
        assertThat(Descriptors.leakedSince(before)).isEmpty();
    }

    @Test
    void portHeldWithoutReusePortIsInUseAndNothingLeaks() throws Exception {
        try (ServerSocket held = new ServerSocket(0, 10, LO)) {
            int port = held.getLocalPort();
            var before = Descriptors.sockets();
            assertThatThrownBy(() -> ReuseportGroup.tcp().address(LO).port(port).workers(8).open())
                    .isInstanceOf(AddressInUseException.class)
                    .hasMessageStartingWith("TCP 127.0.0.1:" + port + " is held by a socket without SO_REUSEPORT")
                    .hasMessageContaining("bind: EADDRINUSE (98)")
                    .hasMessageContaining("accepted: a free port");
            assertThat(Descriptors.leakedSince(before)).isEmpty();
        }
    }

    @Test
    void runningOutOfDescriptorsMidOpenIsTypedAndClosesTheEarlierMembers() throws Exception {
        // the child fills its descriptor table, frees 3, then opens 8 workers: the 4th socket fails
        ChildJvm.Outcome o = ChildJvm.run(OpenAndReport.class, "tcp", "127.0.0.1", "8", "--fd-headroom", "3");
        assertThat(o.output()).contains("ReuseportException: out of file descriptors opening 8 workers on 127.0.0.1:")
                .contains("socket: EMFILE (24)").contains("raise RLIMIT_NOFILE or open fewer workers");
        assertThat(o.output()).contains("fds leaked 0");
        assertThat(o.exit()).isZero();
    }

    @Test
    void useOfAClosedGroupIsATypedError() throws Exception {
        ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(2).open();
        Worker w = g.worker(1);
        g.close();
        g.close(); // idempotent
        assertThat(g.isClosed()).isTrue();
        assertThatThrownBy(() -> w.accept(Duration.ofMillis(10)))
                .isInstanceOf(GroupClosedException.class)
                .hasMessage("worker 1 of group TCP 127.0.0.1:" + g.localAddress().getPort()
                        + " is closed; open a new group");
        assertThatThrownBy(g::stats).isInstanceOf(GroupClosedException.class)
                .hasMessage("group TCP 127.0.0.1:" + g.localAddress().getPort() + " is closed; open a new group");
    }

    @Test
    void wrongProtocolOperationIsRejected() throws Exception {
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(1).open()) {
            assertThatThrownBy(() -> g.worker(0).receive(ByteBuffer.allocate(8), Duration.ZERO))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessage("receive is for UDP workers; worker 0 is TCP");
            assertThatThrownBy(() -> g.worker(1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("slot 1 does not exist; accepted: one of [0]");
        }
    }

    @Test
    void ipv6WhereTheHostHasNoneIsNotAvailable() throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns("sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 "
                + "&& sysctl -q -w net.ipv6.conf.lo.disable_ipv6=1", OpenAndReport.class, "tcp", "::1", "4");
        assertThat(o.output()).contains("AddressNotAvailableException: address 0:0:0:0:0:0:0:1 is IPv6 but this "
                + "host has no IPv6").contains("accepted: an IPv4 address, or enable IPv6");
        assertThat(o.output()).contains("fds leaked 0");
        assertThat(o.exit()).isZero();
    }
}
