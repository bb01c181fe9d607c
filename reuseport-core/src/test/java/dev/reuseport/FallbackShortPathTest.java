package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import dev.reuseport.handoff.Handoff;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code fallback()} takes its own short path: with a hand-off held open by a peer that has gone silent
 * (the old side waits for its {@code ready}) and a restart queued behind that hand-off, it returns without
 * waiting for the steering lock. The engine counts every time a caller found that lock held; the count
 * must not move. When a hand-off holds the lock that fallback needs (one lock for everything, as before
 * the split), the count moves and the call waits for the peer.
 */
@Tag("kernel")
@Timeout(120)
class FallbackShortPathTest {

    @Test
    void fallbackDoesNotWaitBehindASilentHandOffOrAQueuedRestart() throws Exception {
        assumeTrue(Probes.steeringAvailable(Probes.steering()), "eBPF steering unavailable: " + Probes.steering());
        Path dir = Files.createTempDirectory("rp-fb", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        CountDownLatch waitingForPeer = new CountDownLatch(1);
        Handoff steps = new Handoff(step -> {
            if (step.equals("old:layout")) {
                waitingForPeer.countDown(); // the old side now reads the peer's answer
            }
        });
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(4)
                .policy(Policy.consistent()).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false, steps);
             UnixSocketChannel peer = UnixSocketChannel.open(new UnixSocketAddress(dir.resolve("ctl").toFile()))) {
            assumeTrue(g.engine().steering().program() != null, "the steering program did not attach: " + g.capabilities());
            GroupEngine engine = g.engine();
            peer.write(ByteBuffer.wrap("handoff 1\n".getBytes(StandardCharsets.US_ASCII)));
            assertThat(waitingForPeer.await(10, TimeUnit.SECONDS)).as("the old side sent the layout").isTrue();
            // the peer now stays silent: it reads nothing and never says ready (for up to 10 s)
            // own threads: a common-pool task blocked on the change lock could hold back the fallback's task
            ExecutorService threads = Executors.newFixedThreadPool(2);
            Future<?> restart = threads.submit(() -> {
                g.restart();
                return null;
            });
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (engine.queuedChanges() == 0 && System.nanoTime() < until) {
                Thread.sleep(1);
            }
            assertThat(engine.queuedChanges()).as("the restart waits behind the hand-off").isEqualTo(1);
            assertThat(engine.changing()).as("the hand-off holds the change lock").isTrue();

            long waitsBefore = engine.steerWaits();
            long t0 = System.nanoTime();
            long inForce = threads.submit(() -> g.fallback("short-path test")).get(15, TimeUnit.SECONDS);
            long took = System.nanoTime() - t0;
            System.out.println("fallback with a silent hand-off peer and a queued restart: " + took / 1000 + " us "
                    + "(kernel default in force after " + (inForce - t0) / 1000 + " us), steering-lock waits "
                    + (engine.steerWaits() - waitsBefore));

            assertThat(engine.steerWaits() - waitsBefore).as("times fallback found the steering lock held").isZero();
            assertThat(restart).as("the restart is still queued").isNotDone();
            assertThat(engine.changing()).as("the hand-off still runs").isTrue();
            assertThat(g.policy()).isInstanceOf(Policy.KernelHash.class);
            assertThat(g.capabilities().steeringReason()).isEqualTo("fallback: short-path test");

            peer.close(); // the old side reads end of stream: hand-off aborted, still serving
            restart.get(30, TimeUnit.SECONDS);
            threads.shutdown();
            assertThat(g.isClosed()).isFalse();
            assertThat(g.restarts()).isEqualTo(1);
            assertThat(g.audit().entries()).anyMatch(e -> e.contains("handoff-aborted"));
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
