package dev.reuseport.vertx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.ChildLines;
import dev.reuseport.testkit.RequestLoad;
import io.netty.channel.epoll.Epoll;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Vert.x through a cross-process hand-off: a child JVM serving Vert.x's HTTP server on a group hands the
 * group to a second child JVM over the control socket while this JVM keeps {@code GET /hello} going, a new
 * connection per request (5 s read timeout); no request may fail. Then the proof that the scenario can
 * fail: the same replacement without a hand-off (the serving child killed, a third child opening a group
 * of its own on the port) under the same load fails requests, and the test requires that it does.
 *
 * <p>The three JVMs start at once, before the first case: the old child serves, the two spares load
 * Vert.x and wait for their order ({@link VertxHandoffChild}). The cases share them, in order: the child
 * that took the group over in the first case is the one the second case kills. Run alone, the second case
 * kills the old child instead.
 */
@Tag("kernel")
@Timeout(120)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VertxCrossProcessHandoffTest {
    /** The longest wait for a child's line: a bound for a machine at load 30 (JVM starts took 50 s there). */
    static final Duration WAIT = Duration.ofSeconds(90);

    private static Path dir;
    private static ChildLines old;
    private static ChildLines taker;
    private static ChildLines fresh;
    /** The child serving the port now: the old one at first, the taker after the hand-off; null when unclear. */
    private static ChildLines serving;
    private static InetSocketAddress target;

    @BeforeAll
    @Timeout(150)
    static void startTheChildren() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        dir = Files.createTempDirectory("rp-vertx-handoff", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        String ctl = dir.resolve("ctl").toString();
        old = ChildLines.start("old", ChildJvm.javaCommand(VertxHandoffChild.class, "old", ctl));
        taker = ChildLines.start("new", ChildJvm.javaCommand(VertxHandoffChild.class, "spare", ctl));
        fresh = ChildLines.start("fresh", ChildJvm.javaCommand(VertxHandoffChild.class, "spare", ctl));
        String ready = old.await(WAIT, "READY ");
        assertThat(ready).as("the old child serves").isNotNull();
        target = new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(ready.substring(6)));
        VertxReuseportTest.warmUp(target);
        serving = old;
    }

    @AfterAll
    static void stopTheChildren() throws Exception {
        for (ChildLines c : new ChildLines[] {fresh, taker, old}) {
            if (c != null) {
                c.close();
            }
        }
        if (dir != null) {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** The load every case drives: three clients, {@code GET /hello} on a new connection each. */
    static RequestLoad load(String name) {
        return RequestLoad.start(name, 3, Duration.ofSeconds(100), (c, i) -> VertxReuseportTest.hello(target));
    }

    /** Waits at most {@link #WAIT} for {@code n} more answers, failures or not (unlike RequestLoad.awaitMore). */
    static boolean answered(RequestLoad load, long n) throws InterruptedException {
        long goal = load.ok() + n;
        long end = System.nanoTime() + WAIT.toNanos();
        while (load.ok() < goal && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        return load.ok() >= goal;
    }

    @Test
    @Order(1)
    void aHandOffToANewProcessUnderLoadFailsNoRequest() throws Exception {
        assumeTrue(serving == old, "the old child no longer serves the port");
        serving = null;
        try (RequestLoad load = load("vertx-handoff")) {
            assertThat(load.awaitMore(20, WAIT)).as("requests before the hand-off: %s", load).isTrue();
            assertThat(taker.await(WAIT, "STARTED")).as("the new child loaded Vert.x").isNotNull();
            taker.send("go");
            assertThat(taker.await(WAIT, "TOOK-OVER ")).isEqualTo("TOOK-OVER 2");
            assertThat(taker.await(WAIT, "READY ")).isEqualTo("READY " + target.getPort());
            assertThat(old.await(WAIT, "HANDED-OFF")).isNotNull();
            assertThat(old.awaitExit(WAIT)).as("the old child exits once its requests finished").isZero();
            long before = load.ok();
            load.awaitMore(40, WAIT);
            load.close();
            System.out.println("vertx cross-process hand-off: " + load);
            assertThat(load.failed()).as("requests failed: %s", load.failures()).isZero();
            assertThat(load.ok() - before).as("requests the new child answered alone").isGreaterThanOrEqualTo(40);
        }
        serving = taker;
    }

    @Test
    @Order(2)
    void theSameReplacementWithoutAHandOffFailsRequests() throws Exception {
        assumeTrue(serving != null, "no child is known to serve the port (the hand-off case failed midway)");
        ChildLines victim = serving;
        serving = null;
        assertThat(fresh.await(WAIT, "STARTED")).as("the fresh child loaded Vert.x").isNotNull();
        try (RequestLoad load = load("vertx-no-handoff")) {
            assertThat(load.awaitMore(20, WAIT)).as("requests before the replacement: %s", load).isTrue();
            // a restart without a hand-off: the serving process goes away, a new one opens the port anew
            victim.kill();
            long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (load.failed() == 0 && System.nanoTime() < end) {
                Thread.sleep(1);
            }
            fresh.send("fresh " + target.getPort());
            assertThat(fresh.await(WAIT, "READY ")).isEqualTo("READY " + target.getPort());
            long failedWhenReady = load.failed();
            assertThat(answered(load, 20)).as("the fresh child answers: %s", load).isTrue();
            load.close();
            System.out.println("vertx replacement WITHOUT a hand-off (serving child killed, a new group opened): "
                    + load);
            assertThat(failedWhenReady).as("requests failed between the kill and the new group: %s", load)
                    .isPositive();
        }
        serving = fresh;
    }
}
