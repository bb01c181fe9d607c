package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.ChildJvm;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a container must grant, proven with a child JVM whose capability bounding set holds only the named
 * capabilities (setpriv; the child is uid 0 so that it can still read the build's files, but uid 0 alone
 * grants no BPF): CAP_BPF with CAP_PERFMON steers with the eBPF program (no CAP_NET_ADMIN, no
 * CAP_SYS_ADMIN); CAP_BPF alone passes the privilege probe but the verifier refuses the program's
 * pointer arithmetic across maps ("prohibited for !root", which CAP_PERFMON allows), and the group falls
 * back to the kernel hash with that reason and serves. docs/ops/containers.md records the set.
 */
class ContainerCapabilitiesTest {

    private static ChildJvm.Batch children;

    private static void assumeItCanRun() {
        assumeTrue(Runtime.version().feature() >= 22, "runs once, on the JDK 22+ run: which capabilities the kernel "
                + "asks for does not depend on the native backend");
        assumeTrue(Sys.uid() == 0, "limiting a child's capabilities needs root here");
        assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
    }

    /** Both children start together (each its own group on a port of its own); each test awaits its own. */
    @BeforeAll
    static void startTheChildren() {
        assumeItCanRun();
        children = new ChildJvm.Batch(2);
        for (String caps : List.of("bpf,perfmon", "bpf")) {
            String set = "-all" + (caps.isEmpty() ? "" : ",+" + caps.replace(",", ",+"));
            children.run(caps, List.of(), List.of("setpriv", "--bounding-set", set, "--inh-caps", set),
                    PolicyFallbackScenario.class, "round-robin");
        }
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    private static ChildJvm.Outcome withOnly(String caps) throws Exception {
        assumeItCanRun();
        return children.await(caps);
    }

    @Test
    void capBpfAndCapPerfmonAreEnoughToSteer() throws Exception {
        ChildJvm.Outcome o = withOnly("bpf,perfmon");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=bpf round-robin").contains("served=40");
    }

    @Test
    void capBpfAloneFallsBackToTheKernelHashNamingTheVerifier() throws Exception {
        ChildJvm.Outcome o = withOnly("bpf");
        assertThat(o.exit()).as(o.output()).isZero();
        assertThat(o.output()).contains("steering=kernel hash")
                .contains("reason=policy round-robin requested but steering program is OFF")
                .contains("EACCES").contains("prohibited for !root").contains("served=40");
    }
}
