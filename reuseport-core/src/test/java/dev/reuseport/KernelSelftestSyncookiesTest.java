package dev.reuseport;

import dev.reuseport.testkit.ChildJvm;
import static dev.reuseport.KernelSelftestScenario.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Syncookies through a steered group: with net.ipv4.tcp_syncookies=2 (set only inside the child's
 * private network namespace) every SYN is answered with a cookie and no request socket, so the ACK is
 * looked up and steered on its own; the round-robin program sends it to the other member than the SYN's,
 * and the connection must still be made, on the member the ACK reached (the kernel validates the cookie
 * on any listener of the port). IPv4 and IPv6. The three children, a namespace each, start together at
 * the class's beginning; each test asserts on its own child's output.
 */
@Tag("kernel")
@Timeout(200) // a test waits for its child, which may have waited for a place in the batch (ChildJvm kills any child at 150 s)
class KernelSelftestSyncookiesTest {
    private static ChildJvm.Batch children;

    @BeforeAll
    static void steeringIsAvailable() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        if (dev.reuseport.sys.internal.Sys.uid() != 0) {
            assumeTrue(Probes.steeringAvailable(f), "not root and eBPF steering unavailable: " + f);
        }
        assertThat(Probes.steeringAvailable(f)).as("probes as root: %s", f).isTrue();
        children = new ChildJvm.Batch(3);
        for (String family : List.of("v4", "v6")) {
            children.inNetns("cookies " + family, "echo 2 > /proc/sys/net/ipv4/tcp_syncookies",
                    KernelSelftestScenario.class, "syncookies", family);
        }
        children.inNetns("default v4", null, KernelSelftestScenario.class, "syncookies", "v4");
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"v4", "v6"})
    void synAndAckOnDifferentMembersStillConnect(String family) throws Exception {
        ChildJvm.Outcome o = children.await("cookies " + family);
        assertThat(o.exit()).as(o.output()).isZero();
        String out = o.output();
        long n = value(out, "connections");
        assertThat(out).contains("tcp_syncookies=2").contains("steering=bpf round-robin");
        assertThat(value(out, "cookies_sent")).as("a cookie for every SYN: %s", out).isEqualTo(n);
        assertThat(value(out, "cookies_recv")).as("every ACK carried a valid cookie: %s", out).isEqualTo(n);
        assertThat(value(out, "cookies_failed")).as(out).isZero();
        // the program ran (and selected) twice per connection: once for the SYN, once for the ACK
        assertThat(value(out, "selected")).as("selections: %s", out).isEqualTo(2 * n);
        // round-robin over 2 members: SYN on one, ACK (where the connection is made) on the other, every time
        assertThat(Math.max(value(out, "accepted_on_0"), value(out, "accepted_on_1"))).as(out).isEqualTo(n);
        assertThat(value(out, "served")).as("connections echoed: %s", out).isEqualTo(n);
    }

    /** The control: with the namespace's default (cookies only under pressure) the ACK is not steered anew. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"v4"})
    void withoutCookiesTheProgramRunsOncePerConnection(String family) throws Exception {
        ChildJvm.Outcome o = children.await("default " + family);
        assertThat(o.exit()).as(o.output()).isZero();
        String out = o.output();
        long n = value(out, "connections");
        assertThat(value(out, "cookies_sent")).as(out).isZero();
        assertThat(value(out, "selected")).as(out).isEqualTo(n);
        assertThat(value(out, "served")).as(out).isEqualTo(n);
    }
}
