package dev.reuseport.bpf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.KernelAssumptions;
import java.util.List;

/**
 * What the kernel tests of this module need from the machine, decided the way the style guide asks (through
 * the test kit's {@link KernelAssumptions}): skip with the reason where root or BPF is missing, but fail
 * when the kernel is new enough and we are root and the probes still say no, so a broken probe cannot hide
 * behind a skip.
 */
final class KernelSupport {
    /** The release from which every steering feature (including SELECT_OR_MIGRATE) must be on as root. */
    static final int[] FULL_SUPPORT = {5, 14};

    private KernelSupport() {
    }

    /**
     * Returns the steering features after making sure the tests can load and attach the program: fails
     * when root on a kernel >= 5.14 and a feature is not on; otherwise skips, naming what is missing.
     */
    static List<Feature> requireSteering() {
        List<Feature> features = Probes.steering();
        if (KernelAssumptions.mustSupport(FULL_SUPPORT[0], FULL_SUPPORT[1])) {
            // root on a new enough kernel: every feature must be ON; a probe saying otherwise fails the test
            KernelAssumptions.require("every steering feature", FULL_SUPPORT[0], FULL_SUPPORT[1],
                    features.stream().allMatch(Feature::isOn), () -> "features: " + features);
        }
        assumeTrue(Probes.steeringAvailable(features), () -> "steering is not available here (root: "
                + KernelAssumptions.isRoot() + ", kernel " + KernelAssumptions.release() + "): "
                + Probes.firstMissing(features));
        return features;
    }
}
