package dev.reuseport.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.ChildLines;
import dev.reuseport.testkit.RequestLoad;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.epoll.Epoll;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * gRPC through a cross-process hand-off: a child JVM serving gRPC on a group hands the group to a new
 * child JVM over the control socket while this JVM keeps unary and streaming calls (5 s deadlines) going,
 * on new connections and on one long-lived channel; no call may fail.
 *
 * <p>It fails without the hand-off: run it with {@code -Dreuseport.test.noHandoff=true} and the old child
 * is killed, as a restart without a hand-off would, and a new child opens a group of its own on the port:
 * the calls in between fail (refused, reset, or past their deadline), and the test says how many.
 */
@Tag("kernel")
@Timeout(240)
class GrpcCrossProcessHandoffTest {
    /** The longest wait for a child's line: a bound for a machine at load 30 (JVM starts took 50 s there). */
    static final Duration WAIT = Duration.ofSeconds(90);
    private static final long T0 = System.nanoTime();

    /** A step, with the time since this class loaded: where a slow run spent its time shows in the log. */
    static void step(String what) {
        System.out.println("[grpc-handoff +" + (System.nanoTime() - T0) / 1_000_000 + " ms] " + what);
    }

    @Test
    void aHandOffToANewProcessUnderLoadFailsNoCall() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
        boolean noHandoff = Boolean.getBoolean("reuseport.test.noHandoff");
        Path dir = Files.createTempDirectory("rp-grpc-handoff", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path ctl = dir.resolve("ctl");
        ManagedChannel kept = null;
        // both children start at once (the new one waits for "go"): one JVM start less on the clock
        try (ChildLines old = ChildLines.start("old", ChildJvm.javaCommand(GrpcHandoffChild.class, "old",
                ctl.toString()));
             ChildLines taker = noHandoff ? null : ChildLines.start("new", ChildJvm.javaCommand(
                     GrpcHandoffChild.class, "new", ctl.toString()))) {
            String ready = old.await(WAIT, "READY ");
            assertThat(ready).as("the old child serves").isNotNull();
            int port = Integer.parseInt(ready.substring(6));
            step("the old child serves");
            InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
            GrpcReuseportTest.warmUp(target);
            ManagedChannel channel = NettyChannelBuilder.forAddress(target).usePlaintext().build();
            kept = channel;
            // two clients on a new connection per unary + streaming pair, one on a long-lived channel
            try (RequestLoad load = RequestLoad.start("grpc-handoff", 3, Duration.ofSeconds(60), (c, i) -> {
                if (c == 0) {
                    EchoGrpc.both(channel, "kept/" + i);
                } else {
                    GrpcReuseportTest.freshCall(target, c + "/" + i);
                }
            })) {
                assertThat(load.awaitMore(20, WAIT)).as("calls before the hand-off: %s", load).isTrue();
                step("20 calls answered");
                ChildLines neu;
                if (noHandoff) {
                    old.kill();
                    neu = ChildLines.start("fresh", ChildJvm.javaCommand(GrpcHandoffChild.class, "fresh",
                            Integer.toString(port)));
                } else {
                    neu = taker;
                    assertThat(neu.await(WAIT, "STARTED")).isNotNull();
                    neu.send("go");
                    step("go");
                }
                try (neu) {
                    if (!noHandoff) {
                        assertThat(neu.await(WAIT, "TOOK-OVER ")).isEqualTo("TOOK-OVER 2");
                    }
                    assertThat(neu.await(WAIT, "READY ")).isEqualTo("READY " + port);
                    step("the new child serves");
                    if (!noHandoff) {
                        assertThat(old.await(WAIT, "HANDED-OFF")).isNotNull();
                        assertThat(old.awaitExit(WAIT)).as("the old child exits once its calls finished").isZero();
                        step("the old child exited");
                    }
                    long before = load.ok();
                    load.awaitMore(40, WAIT);
                    load.close();
                    step("40 more calls answered");
                    System.out.println("grpc cross-process hand-off" + (noHandoff ? " (NOT taken over: old killed)"
                            : "") + ": " + load);
                    assertThat(load.failed()).as("calls failed: %s", load.failures()).isZero();
                    assertThat(load.ok() - before).as("calls the new child answered alone").isGreaterThanOrEqualTo(40);
                }
            }
        } finally {
            if (kept != null) {
                kept.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }
}
