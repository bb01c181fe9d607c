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
 * No lock is held across a hand-off's socket I/O (issue 15, High 3): with a hand-off held open by a peer
 * that has gone silent (the old side waits for its {@code ready}), a restart completes, a policy change
 * and {@code fallback()} return, and nobody queues for the change lock; {@code fallback()} never finds the
 * steering lock held (the engine counts every time a caller did; the count must not move). The whole
 * exchange has one deadline that a peer trickling bytes cannot extend.
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
            peer.write(ByteBuffer.wrap(("handoff " + Handoff.VERSION + "\n").getBytes(StandardCharsets.US_ASCII)));
            assertThat(waitingForPeer.await(10, TimeUnit.SECONDS)).as("the old side sent the layout").isTrue();
            // the peer now stays silent: it reads nothing and never answers (for up to 10 s)
            // own threads: a common-pool task blocked on the change lock could hold back the fallback's task
            ExecutorService threads = Executors.newFixedThreadPool(2);
            assertThat(engine.changing()).as("no lock is held while the old side waits for the peer").isFalse();
            Future<?> restart = threads.submit(() -> {
                g.restart();
                return null;
            });
            restart.get(5, TimeUnit.SECONDS); // a restart does not wait behind the silent peer
            assertThat(g.restarts()).isEqualTo(1);
            assertThat(engine.queuedChanges()).as("callers waiting for the change lock").isZero();

            long waitsBefore = engine.steerWaits();
            long t0 = System.nanoTime();
            long inForce = threads.submit(() -> g.fallback("short-path test")).get(15, TimeUnit.SECONDS);
            long took = System.nanoTime() - t0;
            System.out.println("fallback with a silent hand-off peer after a restart: " + took / 1000 + " us "
                    + "(kernel default in force after " + (inForce - t0) / 1000 + " us), steering-lock waits "
                    + (engine.steerWaits() - waitsBefore));

            assertThat(engine.steerWaits() - waitsBefore).as("times fallback found the steering lock held").isZero();
            assertThat(engine.changing()).as("the hand-off holds no lock while the peer is silent").isFalse();
            assertThat(engine.queuedChanges()).isZero();
            assertThat(g.policy()).isInstanceOf(Policy.KernelHash.class);
            assertThat(g.capabilities().steeringReason()).isEqualTo("fallback: short-path test");
            g.policy(Policy.roundRobin()); // a policy change does not wait either
            threads.shutdown();

            peer.close(); // the old side reads end of stream: hand-off aborted, still serving
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (g.audit().entries().stream().noneMatch(e -> e.contains("handoff-aborted"))
                    && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertThat(g.isClosed()).isFalse();
            assertThat(g.audit().entries()).anyMatch(e -> e.contains("handoff-aborted"));
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * The whole exchange has one deadline: a peer that trickles a byte at a time (never a whole line) does
     * not extend it. With a 1 s deadline the old side gives up while the peer still trickles, and serves on.
     */
    @Test
    void aPeerTricklingBytesDoesNotExtendTheHandOffDeadline() throws Exception {
        Path dir = Files.createTempDirectory("rp-fb", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        CountDownLatch waitingForPeer = new CountDownLatch(1);
        Handoff steps = new Handoff(step -> {
            if (step.equals("old:layout")) {
                waitingForPeer.countDown();
            }
        }, java.time.Duration.ofSeconds(1));
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false, steps);
             UnixSocketChannel peer = UnixSocketChannel.open(new UnixSocketAddress(dir.resolve("ctl").toFile()))) {
            long t0 = System.nanoTime();
            peer.write(ByteBuffer.wrap(("handoff " + Handoff.VERSION + "\n").getBytes(StandardCharsets.US_ASCII)));
            assertThat(waitingForPeer.await(10, TimeUnit.SECONDS)).as("the old side sent the layout").isTrue();
            boolean aborted = false;
            int trickled = 0;
            // trickle for up to 4 s: one byte every 50 ms, never a newline
            while (!aborted && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(4)) {
                try {
                    peer.write(ByteBuffer.wrap(new byte[] {'r'}));
                    trickled++;
                } catch (java.io.IOException e) {
                    // the old side shut the connection at its deadline
                }
                Thread.sleep(50);
                aborted = g.audit().entries().stream().anyMatch(e -> e.contains("handoff-aborted"));
            }
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.println("trickling peer: " + trickled + " bytes, hand-off aborted after " + tookMs + " ms");
            assertThat(aborted).as("the hand-off ended at its deadline while the peer still trickled").isTrue();
            assertThat(g.audit().entries()).anyMatch(e -> e.contains("handoff-aborted") && e.contains("deadline"));
            assertThat(g.isClosed()).isFalse();
            assertThat(cs.handedOff()).isFalse();
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
