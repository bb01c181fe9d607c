package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.ChildJvm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With a steering feature forced off, a group asked for a policy opens on the kernel hash, names the
 * missing feature, and serves. Each case runs in a child JVM.
 */
@Tag("kernel")
@Timeout(120)
class PolicyFallbackTest {

    @Test
    void withoutLibbpfTheGroupOpensOnTheKernelHashAndSaysWhy() throws Exception {
        ChildJvm.Outcome o = ChildJvm.run(java.util.List.of("-Dreuseport.libbpf=/nonexistent/libbpf.so.1"),
                PolicyFallbackScenario.class, "round-robin");
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
        ChildJvm.Outcome o = ChildJvm.run(java.util.List.of(), java.util.List.of("setpriv", "--bounding-set",
                "-bpf,-sys_admin", "--inh-caps", "-bpf,-sys_admin"), PolicyFallbackScenario.class, "sticky");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("reason=policy sticky requested but BPF privilege is INCONCLUSIVE")
                .contains("CAP_BPF")
                .doesNotContain("too old")
                .contains("served=40");
    }

    @Test
    void withBpfTurnedOffTheGroupOpensOnTheKernelHash() throws Exception {
        ChildJvm.Outcome o = ChildJvm.run(java.util.List.of("-Dreuseport.bpf=false"),
                PolicyFallbackScenario.class, "consistent");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("turned off by -Dreuseport.bpf=false").contains("served=40");
    }
}
