package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import dev.reuseport.handoff.Handoff;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15's soak lost connections during cross-process hand-offs: the process taking over joins the port
 * with standby sockets before it asks (so that a kill -9 of the old one loses nothing), and on the
 * kernel-hash policy (the program attached in pass mode) the kernel hash gave those standby sockets their
 * share of new connections, which then waited, unaccepted, for the whole exchange and until the new
 * process served: past a client's timeout on a slow machine. Now, from the moment the old side starts the
 * exchange until it ends, the program hashes over the old group's own sockets only; a {@code fallback()}
 * meanwhile keeps that (the kernel hash over the group's own sockets) and returns at once; when the
 * exchange ends without a hand-off, the kernel hash over every member is back.
 *
 * <p>On the code before the fix, the standby socket took its share (about a fifth) during the exchange.
 */
@Tag("kernel")
@Timeout(60)
class HandoffHoldTest {
    private static final int CONNECTIONS = 150;

    @Test
    void standbySocketsGetNoNewConnectionWhileTheOldSideHandsOffAndFallbackReturnsAtOnce() throws Exception {
        assumeTrue(Probes.steeringAvailable(Probes.steering()), "eBPF steering unavailable: " + Probes.steering());
        Path dir = Files.createTempDirectory("rp-hold", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        CountDownLatch waitingForPeer = new CountDownLatch(1);
        Handoff steps = new Handoff(step -> {
            if (step.equals("old:layout")) {
                waitingForPeer.countDown(); // the old side now waits for the peer's proof
            }
        });
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(4).backlog(1024).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false, steps);
             ServerSocketChannel standby = ServerSocketChannel.open(java.net.StandardProtocolFamily.INET)) {
            assumeTrue(g.engine().steering().program() != null, "no program attached in pass mode (migration "
                    + "unavailable): the kernel hash alone decides: " + g.capabilities());
            int port = g.localAddress().getPort();
            standby.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            standby.bind(new InetSocketAddress(TestTraffic.LO, port), 1024);
            standby.configureBlocking(false);

            int before = landOnStandby(port, standby);
            assertThat(before).as("control: before any hand-off the kernel hash gives the standby socket its "
                    + "share of " + CONNECTIONS).isPositive();

            try (UnixSocketChannel peer = UnixSocketChannel.open(new UnixSocketAddress(dir.resolve("ctl").toFile()))) {
                peer.write(ByteBuffer.wrap(("handoff " + Handoff.VERSION + "\n").getBytes(StandardCharsets.US_ASCII)));
                assertThat(waitingForPeer.await(10, TimeUnit.SECONDS)).as("the old side sent the layout").isTrue();

                int during = landOnStandby(port, standby);
                long t0 = System.nanoTime();
                g.fallback("during a hand-off");
                long tookMicros = (System.nanoTime() - t0) / 1000;
                int afterFallback = landOnStandby(port, standby);
                System.out.println("standby socket took " + before + " of " + CONNECTIONS + " before the hand-off, "
                        + during + " during it, " + afterFallback + " after a fallback during it; fallback took "
                        + tookMicros + " us");
                assertThat(during).as("connections the standby socket took while the old side handed off").isZero();
                assertThat(tookMicros).as("fallback() during the hand-off, us (generous bound: loaded machine)")
                        .isLessThan(50_000);
                assertThat(afterFallback).as("connections the standby socket took after a fallback during the "
                        + "hand-off").isZero();
                assertThat(g.capabilities().steeringReason()).contains("hand-off is in progress");
            }
            // the peer went away: the hand-off is aborted and the kernel hash over every member is back
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (g.audit().entries().stream().noneMatch(e -> e.contains("handoff-aborted"))
                    && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertThat(g.audit().entries()).anyMatch(e -> e.contains("handoff-aborted"));
            until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (g.engine().steering().program().config()[0] != 0 && System.nanoTime() < until) {
                Thread.sleep(5); // the session releases the hold as it closes, just after the audit line
            }
            assertThat(landOnStandby(port, standby)).as("after the aborted hand-off the kernel hash includes the "
                    + "standby socket again").isPositive();
            assertThat(g.isClosed()).isFalse();
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Opens {@link #CONNECTIONS} connections to the port and returns how many the standby socket accepts. */
    private static int landOnStandby(int port, ServerSocketChannel standby) throws IOException, InterruptedException {
        for (int i = 0; i < CONNECTIONS; i++) {
            try (SocketChannel c = SocketChannel.open(new InetSocketAddress(TestTraffic.LO, port))) {
                c.isConnected(); // established: queued on the listener the kernel (or the program) chose
            }
        }
        Thread.sleep(50);
        int n = 0;
        for (SocketChannel a; (a = standby.accept()) != null; ) {
            a.close();
            n++;
        }
        return n;
    }
}
