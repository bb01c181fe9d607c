package dev.reuseport.sys.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The socket calls on the real kernel, through whichever backend this JVM uses. */
@Tag("kernel")
class SysSocketTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @Test
    void bindOnAPortHeldWithoutReusePortFailsWithEaddrinuse() throws Exception {
        try (ServerSocket held = new ServerSocket(0, 10, LO)) {
            int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_STREAM, 0);
            try {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
                assertThatThrownBy(() -> Sys.bind(fd, new InetSocketAddress(LO, held.getLocalPort()), SockAddr.AF_INET))
                        .isInstanceOf(NativeException.class)
                        .hasMessage("bind: EADDRINUSE (98): Address already in use")
                        .satisfies(e -> {
                            NativeException n = (NativeException) e;
                            assertThat(n.call()).isEqualTo("bind");
                            assertThat(n.errno()).isEqualTo(Errno.EADDRINUSE);
                            assertThat(n.errnoName()).isEqualTo("EADDRINUSE");
                        });
            } finally {
                Sys.close(fd);
            }
        }
    }

    @Test
    void listenOnAUdpSocketNamesTheCallAndErrno() throws Exception {
        int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        try {
            assertThatThrownBy(() -> Sys.listen(fd, 1)).isInstanceOf(NativeException.class)
                    .hasMessage("listen: EOPNOTSUPP (95): Operation not supported");
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void tcpAcceptReadWriteAndAddressesRoundTrip() throws Exception {
        int lfd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_STREAM | Sys.SOCK_NONBLOCK, 0);
        try {
            Sys.setInt(lfd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            assertThat(Sys.getInt(lfd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT)).isEqualTo(1);
            Sys.bind(lfd, new InetSocketAddress(LO, 0), SockAddr.AF_INET);
            Sys.listen(lfd, 16);
            InetSocketAddress local = Sys.localAddress(lfd);
            assertThat(local.getAddress()).isEqualTo(LO);
            assertThat(Sys.accept(lfd, false)).as("nothing queued yet").isEqualTo(-1);
            assertThat(Sys.poll(lfd, Sys.POLLIN, 10)).as("poll times out").isZero();
            assertThat(Sys.listenerQueue(lfd)).containsExactly(0, 16);
            try (Socket client = new Socket(LO, local.getPort())) {
                assertThat(Sys.poll(lfd, Sys.POLLIN, 2000) & Sys.POLLIN).isNotZero();
                assertThat(Sys.listenerQueue(lfd)[0]).as("TCP_INFO queue depth").isEqualTo(1);
                int cfd = Sys.accept(lfd, false);
                try {
                    assertThat(Sys.peerAddress(cfd).getPort()).isEqualTo(client.getLocalPort());
                    OutputStream os = client.getOutputStream();
                    os.write("ping".getBytes(StandardCharsets.US_ASCII));
                    ByteBuffer direct = ByteBuffer.allocateDirect(16);
                    assertThat(Sys.read(cfd, direct)).isEqualTo(4);
                    ByteBuffer heap = ByteBuffer.wrap("pong!".getBytes(StandardCharsets.US_ASCII));
                    heap.position(1);
                    assertThat(Sys.write(cfd, heap)).isEqualTo(4);
                    assertThat(heap.hasRemaining()).isFalse();
                    InputStream is = client.getInputStream();
                    assertThat(new String(is.readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("ong!");
                    direct.flip();
                    assertThat(StandardCharsets.US_ASCII.decode(direct).toString()).isEqualTo("ping");
                    client.shutdownOutput();
                    assertThat(Sys.read(cfd, ByteBuffer.allocate(8))).as("end of stream").isEqualTo(-1);
                    assertThat(Sys.getLong(cfd, Sys.SOL_SOCKET, Sys.SO_COOKIE)).isPositive();
                } finally {
                    Sys.close(cfd);
                }
            }
        } finally {
            Sys.close(lfd);
        }
    }

    @Test
    void udpReceiveAndSendRoundTrip() throws Exception {
        int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        try (DatagramSocket peer = new DatagramSocket(0, LO)) {
            Sys.bind(fd, new InetSocketAddress(LO, 0), SockAddr.AF_INET);
            InetSocketAddress local = Sys.localAddress(fd);
            assertThat(Sys.receive(fd, ByteBuffer.allocate(64), Sys.MSG_DONTWAIT)).as("EAGAIN is null").isNull();
            byte[] msg = "hello".getBytes(StandardCharsets.US_ASCII);
            peer.send(new DatagramPacket(msg, msg.length, local));
            assertThat(Sys.poll(fd, Sys.POLLIN, 2000) & Sys.POLLIN).isNotZero();
            ByteBuffer in = ByteBuffer.allocate(64);
            InetSocketAddress from = Sys.receive(fd, in, 0);
            assertThat(from.getPort()).isEqualTo(peer.getLocalPort());
            assertThat(in.position()).isEqualTo(5);
            in.flip();
            assertThat(Sys.send(fd, in, from, SockAddr.AF_INET, 0)).isEqualTo(5);
            DatagramPacket p = new DatagramPacket(new byte[64], 64);
            peer.setSoTimeout(2000);
            peer.receive(p);
            assertThat(new String(p.getData(), 0, p.getLength(), StandardCharsets.US_ASCII)).isEqualTo("hello");
            assertThat(Sys.drops(fd)).isZero();
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void ipv6LoopbackWorksWhenTheHostHasIpv6() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                !Files.readAllLines(Path.of("/proc/net/if_inet6")).isEmpty(), "this host has no IPv6 address");
        int fd = Sys.socket(SockAddr.AF_INET6, Sys.SOCK_DGRAM, 0);
        try {
            Sys.bind(fd, new InetSocketAddress(InetAddress.getByName("::1"), 0), SockAddr.AF_INET6);
            InetSocketAddress local = Sys.localAddress(fd);
            assertThat(local.getAddress()).isEqualTo(InetAddress.getByName("::1"));
            assertThat(local.getPort()).isPositive();
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void descriptorsTravelOverScmRights() throws Exception {
        Path dir = Files.createTempDirectory("rp-scm");
        Path path = dir.resolve("s");
        byte[] sun = new byte[110];
        ByteBuffer.wrap(sun).order(ByteOrder.nativeOrder()).putShort(0, (short) Sys.AF_UNIX);
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        System.arraycopy(p, 0, sun, 2, p.length);
        int len = 2 + p.length + 1;
        int server = Sys.socket(Sys.AF_UNIX, Sys.SOCK_STREAM, 0);
        int client = Sys.socket(Sys.AF_UNIX, Sys.SOCK_STREAM, 0);
        int udp = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        int conn = -1;
        int[] got = {-1, -1, -1};
        try {
            Sys.bindRaw(server, sun, len);
            Sys.listen(server, 1);
            Sys.connectRaw(client, sun, len);
            conn = Sys.accept(server, false);
            Sys.bind(udp, new InetSocketAddress(LO, 0), SockAddr.AF_INET);
            long cookie = Sys.getLong(udp, Sys.SOL_SOCKET, Sys.SO_COOKIE);
            assertThat(Sys.sendFds(client, "layout".getBytes(StandardCharsets.US_ASCII), new int[] {udp})).isEqualTo(6);
            byte[] data = new byte[32];
            assertThat(Sys.receiveFds(conn, data, got)).isEqualTo(6);
            assertThat(new String(data, 0, 6, StandardCharsets.US_ASCII)).isEqualTo("layout");
            assertThat(got[0]).isNotEqualTo(udp).isNotNegative();
            assertThat(got[1]).isEqualTo(-1);
            assertThat(Sys.getLong(got[0], Sys.SOL_SOCKET, Sys.SO_COOKIE)).as("same socket, new number").isEqualTo(cookie);
        } finally {
            for (int fd : new int[] {server, client, udp, conn, got[0]}) {
                if (fd >= 0) {
                    Sys.close(fd);
                }
            }
            Files.deleteIfExists(path);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void unameGivesTheKernelRelease() throws Exception {
        String proc = String.join("", Files.readAllLines(Path.of("/proc/sys/kernel/osrelease"))).trim();
        assertThat(Sys.kernelRelease()).isEqualTo(proc);
    }

    @Test
    void nativeFdClosesExactlyOnceAndRefusesUseAfterClose() throws Exception {
        int raw = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        NativeFd fd = new NativeFd(raw, false);
        assertThat(fd.acquire()).isEqualTo(raw);
        fd.close(); // deferred: a call is in flight
        assertThat(Sys.getInt(raw, Sys.SOL_SOCKET, Sys.SO_RCVBUF)).as("still open while in use").isPositive();
        Path link = Path.of("/proc/self/fd/" + raw);
        String socket = Files.readSymbolicLink(link).toString();
        assertThat(socket).startsWith("socket:[");
        fd.release(); // last user: now the number is closed
        assertThatThrownBy(fd::acquire).isInstanceOf(ClosedChannelException.class);
        // the number may already be reused by another thread, but never for this socket
        assertThat(target(link)).as("the number no longer names this socket").isNotEqualTo(socket);
        fd.close(); // idempotent, touches nothing
        assertThat(fd.closeFailure()).isNull();
    }

    @Test
    void aHeldCloseKeepsTheNumberForTheCloserUntilTheLastCallEnds() throws Exception {
        int raw = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        NativeFd fd = new NativeFd(raw, false);
        Path link = Path.of("/proc/self/fd/" + raw);
        String socket = Files.readSymbolicLink(link).toString();
        assertThat(fd.acquire()).isEqualTo(raw);
        assertThat(fd.closeHeld()).isTrue();
        assertThatThrownBy(fd::acquire).as("no new call once held").isInstanceOf(ClosedChannelException.class);
        fd.release(); // the last call ends: with a plain close() this would close the number
        assertThat(Files.readSymbolicLink(link).toString()).as("the closer still holds it").isEqualTo(socket);
        assertThat(fd.isReleased()).isFalse();
        int[] seen = {-1};
        boolean ran = fd.finishHeld(System.nanoTime() + 1_000_000_000L, n -> {
            seen[0] = Sys.getInt(n, Sys.SOL_SOCKET, Sys.SO_RCVBUF) > 0 ? n : -2;
        });
        assertThat(ran).isTrue();
        assertThat(seen[0]).as("the last action ran on the open number").isEqualTo(raw);
        assertThat(fd.isReleased()).isTrue();
        assertThat(target(link)).as("the number no longer names this socket").isNotEqualTo(socket);
        assertThat(fd.closeHeld()).as("already closed").isFalse();
    }

    @Test
    void aHeldCloseWhoseCallsOutliveTheDeadlineLeavesTheLastActionToTheLastCall() throws Exception {
        int raw = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        NativeFd fd = new NativeFd(raw, false);
        Path link = Path.of("/proc/self/fd/" + raw);
        String socket = Files.readSymbolicLink(link).toString();
        fd.acquire();
        assertThat(fd.closeHeld()).isTrue();
        int[] seen = {-1};
        String[] ranOn = {null};
        boolean ran = fd.finishHeld(System.nanoTime() + 20_000_000L, n -> {
            seen[0] = Sys.getInt(n, Sys.SOL_SOCKET, Sys.SO_RCVBUF) > 0 ? n : -2;
            ranOn[0] = Thread.currentThread().getName();
        });
        assertThat(ran).as("a call was still in flight at the deadline").isFalse();
        assertThat(seen[0]).as("not run while a call is in flight").isEqualTo(-1);
        assertThat(Files.readSymbolicLink(link).toString()).as("the call still uses it").isEqualTo(socket);
        Thread last = new Thread(fd::release, "last-call");
        last.start();
        last.join();
        assertThat(seen[0]).as("the last call ran the action on the open number").isEqualTo(raw);
        assertThat(ranOn[0]).isEqualTo("last-call");
        assertThat(fd.isReleased()).isTrue();
        assertThat(target(link)).as("the number no longer names this socket").isNotEqualTo(socket);
        assertThatThrownBy(() -> fd.finishHeld(0, n -> { })).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not held");
    }

    @Test
    void membarrierOffersAGlobalBarrierAndWaitsForAGracePeriod() throws Exception {
        // QUERY's mask names GLOBAL (bit 0) and, since 4.14, PRIVATE_EXPEDITED (bit 3): a wrong syscall
        // number would not answer like this
        int commands = Sys.membarrierCommands();
        assertThat(commands & Sys.MEMBARRIER_CMD_GLOBAL).as("commands 0x%x", commands).isEqualTo(1);
        assertThat(commands & 8).as("commands 0x%x", commands).isEqualTo(8);
        long t0 = System.nanoTime();
        Sys.rcuGracePeriod();
        assertThat(System.nanoTime() - t0).as("a grace period, not a hang").isLessThan(2_000_000_000L);
    }

    /** What a /proc/self/fd link points at now, or "gone". */
    private static String target(Path link) throws java.io.IOException {
        return Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? Files.readSymbolicLink(link).toString()
                : "gone";
    }
}
