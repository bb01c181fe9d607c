package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.KernelAssumptions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Restarts, resizes and replacements under continuous load while Netty serves the group, each in a child
 * JVM inside its own network namespace (net.ipv4.tcp_migrate_req is 0 there; the host's is never touched).
 * The four children are independent, so they start at the class's beginning, two at a time, in the tests'
 * order; each test asserts on its own child's output.
 */
@Tag("kernel")
@Timeout(200)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the order the children were started in
class NettyRestartTest {
    private static ChildJvm.Batch children;

    @BeforeAll
    static void epollAndTheChildrenStart() {
        NettyTesting.assumeEpoll();
        children = new ChildJvm.Batch(2);
        for (String[] args : new String[][] {{"tcp", "20", "restart"}, {"tcp", "20", "resize"}, {"tcp", "16", "replace"},
            {"udp", "20", "restart"}}) {
            children.inNetns(String.join(" ", args), null, NettyRestartScenario.class, args);
        }
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    private static long value(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(\\d+)").matcher(out);
        assertThat(m.find()).as("%s in child output:%n%s", key, out).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static ChildJvm.Outcome run(String... args) throws Exception {
        ChildJvm.Outcome o = children.await(String.join(" ", args));
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "tcp_migrate_req")).isZero();
        return o;
    }

    @Test
    @Order(1)
    void twentyRestartsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = run("tcp", "20", "restart");
        assertThat(o.output()).contains("attached in pass mode");
        assertThat(value(o.output(), "restarts")).isEqualTo(20);
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
        assertThat(value(o.output(), "netty_served")).isEqualTo(value(o.output(), "ok"));
        assertThat(value(o.output(), "channels")).isEqualTo(8);
    }

    @Test
    @Order(2)
    void resizesEightToFourUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = run("tcp", "20", "resize");
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
        assertThat(value(o.output(), "channels")).isEqualTo(8);
    }

    @Test
    @Order(3)
    void singleWorkerReplacementsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = run("tcp", "16", "replace");
        assertThat(value(o.output(), "restarts")).isEqualTo(16);
        assertThat(value(o.output(), "ok")).isGreaterThan(300);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
    @Order(4)
    void twentyUdpRestartsUnderLoadLoseNoDatagram() throws Exception {
        ChildJvm.Outcome o = run("udp", "20", "restart");
        if (!o.output().contains("steering=bpf")) {
            // without the program the kernel hash can steer to a leaving socket after its drain
            org.junit.jupiter.api.Assumptions.assumeTrue(KernelAssumptions.uid() != 0,
                    "as root the steering program must load: " + o.output());
            org.junit.jupiter.api.Assumptions.abort("no eBPF steering: " + o.output());
        }
        assertThat(value(o.output(), "restarts")).isEqualTo(20);
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
        assertThat(value(o.output(), "channels")).isEqualTo(8);
    }
}
