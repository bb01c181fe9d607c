package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.KernelAssumptions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Restarts, resizes and replacements under continuous load while Netty serves the group, each in a child
 * JVM inside its own network namespace (net.ipv4.tcp_migrate_req is 0 there; the host's is never touched).
 */
@Tag("kernel")
@Timeout(200)
class NettyRestartTest {

    @BeforeEach
    void epoll() {
        NettyTesting.assumeEpoll();
    }

    private static long value(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(\\d+)").matcher(out);
        assertThat(m.find()).as("%s in child output:%n%s", key, out).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static ChildJvm.Outcome run(String... args) throws Exception {
        ChildJvm.Outcome o = ChildJvm.inNetns(null, NettyRestartScenario.class, args);
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(value(o.output(), "tcp_migrate_req")).isZero();
        return o;
    }

    @Test
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
    void resizesEightToFourUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = run("tcp", "20", "resize");
        assertThat(value(o.output(), "ok")).isGreaterThan(500);
        assertThat(value(o.output(), "failed")).isZero();
        assertThat(value(o.output(), "channels")).isEqualTo(8);
    }

    @Test
    void singleWorkerReplacementsUnderLoadFailNoConnection() throws Exception {
        ChildJvm.Outcome o = run("tcp", "16", "replace");
        assertThat(value(o.output(), "restarts")).isEqualTo(16);
        assertThat(value(o.output(), "ok")).isGreaterThan(300);
        assertThat(value(o.output(), "failed")).isZero();
    }

    @Test
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
