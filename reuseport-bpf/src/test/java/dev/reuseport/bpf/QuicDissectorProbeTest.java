package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.KernelAssumptions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The QUIC dissector's capability probe: ON as root on a kernel that must support steering. */
@Tag("kernel")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QuicDissectorProbeTest {

    @Test
    void quicDissectorIsOnAsRootOnThisKernel() {
        assumeTrue(KernelAssumptions.mustSupport(KernelSupport.FULL_SUPPORT[0], KernelSupport.FULL_SUPPORT[1]), () -> "the probe can only be ON as root on >= 5.14 (root: "
                + KernelAssumptions.isRoot() + ", kernel " + KernelAssumptions.release() + ")");
        Feature f = Probes.quicDissector();
        assertThat(f.name()).isEqualTo(Probes.QUIC_DISSECTOR);
        assertThat(f.isOn()).as("QUIC dissector probe: %s", f).isTrue();
        assertThat(f.detail()).contains("reached its slot");
    }
}
