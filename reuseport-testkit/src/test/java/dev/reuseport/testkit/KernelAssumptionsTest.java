package dev.reuseport.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

class KernelAssumptionsTest {
    @Test
    void releasesCompareByMajorThenMinor() {
        assertThat(KernelAssumptions.atLeast("6.18.44-firecracker", 5, 14)).isTrue();
        assertThat(KernelAssumptions.atLeast("5.14.0", 5, 14)).isTrue();
        assertThat(KernelAssumptions.atLeast("5.13.19", 5, 14)).isFalse();
        assertThat(KernelAssumptions.atLeast("4.19.1", 5, 1)).isFalse();
        assertThatThrownBy(() -> KernelAssumptions.atLeast("unknown", 5, 14))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("'unknown'");
    }

    @Test
    void aProbeSayingNoOnANewEnoughKernelAsRootFailsInsteadOfSkipping() {
        assumeTrue(KernelAssumptions.isRoot(), "the failing branch needs root");
        assertThatThrownBy(() -> KernelAssumptions.require("a feature of Linux 3.0", 3, 0, false, () -> "probe: EINVAL"))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("a probe saying otherwise is a bug").hasMessageContaining("probe: EINVAL");
    }

    @Test
    void aProbeSayingNoOnAnOlderKernelSkipsWithTheReason() {
        assertThatThrownBy(() -> KernelAssumptions.require("a feature of Linux 99.0", 99, 0, false,
                () -> "probe: ENOSYS"))
                .isInstanceOf(TestAbortedException.class).hasMessageContaining("probe: ENOSYS")
                .hasMessageContaining(KernelAssumptions.release());
    }

    @Test
    void aSupportedFeatureNeitherFailsNorSkips() {
        KernelAssumptions.require("anything", 3, 0, true, () -> "unused");
    }
}
