package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.ChildJvm;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With a steering feature forced off, a group asked for a policy opens on the kernel hash, names the
 * missing feature, and serves. Each case runs in a child JVM (its own group on a port of its own); the
 * three start together at the class's beginning and each test asserts on its own child's output.
 */
@Tag("kernel")
@Timeout(120)
class PolicyFallbackTest {
    private static ChildJvm.Batch children;

    private static boolean canDropCapabilities() {
        return Sys.uid() == 0 && new java.io.File("/usr/bin/setpriv").canExecute();
    }

    @BeforeAll
    static void startTheChildren() {
        children = new ChildJvm.Batch(3);
        children.run("no libbpf", List.of("-Dreuseport.libbpf=/nonexistent/libbpf.so.1"), List.of(),
                PolicyFallbackScenario.class, "round-robin");
        if (canDropCapabilities()) {
            children.run("no CAP_BPF", List.of(), List.of("setpriv", "--bounding-set", "-bpf,-sys_admin",
                    "--inh-caps", "-bpf,-sys_admin"), PolicyFallbackScenario.class, "sticky");
        }
        children.run("bpf off", List.of("-Dreuseport.bpf=false"), List.of(), PolicyFallbackScenario.class,
                "consistent");
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    @Test
    void withoutLibbpfTheGroupOpensOnTheKernelHashAndSaysWhy() throws Exception {
        ChildJvm.Outcome o = children.await("no libbpf");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("reason=policy round-robin requested but libbpf is OFF")
                .contains("/nonexistent/libbpf.so.1")
                .contains("served=40");
    }

    @Test
    void withoutCapBpfTheGroupOpensOnTheKernelHashAndBlamesPrivilegeNotTheKernel() throws Exception {
        assumeTrue(Sys.uid() == 0, "dropping capabilities from a child needs root here");
        assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
        ChildJvm.Outcome o = children.await("no CAP_BPF");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("reason=policy sticky requested but BPF privilege is INCONCLUSIVE")
                .contains("CAP_BPF")
                .doesNotContain("too old")
                .contains("served=40");
    }

    @Test
    void withBpfTurnedOffTheGroupOpensOnTheKernelHash() throws Exception {
        ChildJvm.Outcome o = children.await("bpf off");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("turned off by -Dreuseport.bpf=false").contains("served=40");
    }
}
