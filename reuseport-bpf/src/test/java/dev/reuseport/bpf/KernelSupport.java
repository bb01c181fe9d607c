package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the kernel tests of this module need from the machine, decided the way the style guide asks:
 * skip with the reason where root or BPF is missing, but fail when the kernel is new enough and we are
 * root and the probes still say no, so a broken probe cannot hide behind a skip.
 */
final class KernelSupport {
    /** The release from which every steering feature (including SELECT_OR_MIGRATE) must be on as root. */
    static final int[] FULL_SUPPORT = {5, 14};

    private KernelSupport() {
    }

    static boolean isRoot() {
        return Sys.uid() == 0;
    }

    static String release() {
        try {
            return Sys.kernelRelease();
        } catch (NativeException e) {
            throw new IllegalStateException("uname failed: " + e.getMessage(), e);
        }
    }

    /** Whether the running kernel is at least {@code major.minor}. */
    static boolean kernelAtLeast(int major, int minor) {
        Matcher m = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(release());
        if (!m.find()) {
            throw new IllegalStateException("cannot parse the kernel release '" + release() + "'");
        }
        int ma = Integer.parseInt(m.group(1));
        int mi = Integer.parseInt(m.group(2));
        return ma > major || (ma == major && mi >= minor);
    }

    /** Root on a kernel new enough that every steering feature must be on. */
    static boolean mustSupportEverything() {
        return isRoot() && kernelAtLeast(FULL_SUPPORT[0], FULL_SUPPORT[1]);
    }

    /**
     * Returns the steering features after making sure the tests can load and attach the program: fails
     * when root on a kernel >= 5.14 and a feature is not on; otherwise skips, naming what is missing.
     */
    static List<Feature> requireSteering() {
        List<Feature> features = Probes.steering();
        if (mustSupportEverything()) {
            assertThat(features)
                    .as("root on Linux %s (>= %d.%d): every steering feature must be ON; a probe saying otherwise"
                            + " is a bug, not a reason to skip. Features: %s", release(), FULL_SUPPORT[0],
                            FULL_SUPPORT[1], features)
                    .allMatch(Feature::isOn);
        }
        assumeTrue(Probes.steeringAvailable(features),
                () -> "steering is not available here (root: " + isRoot() + ", kernel " + release() + "): "
                        + Probes.firstMissing(features));
        return features;
    }

    /** Skips with the reason when the host has no IPv6 address at all (not even ::1). */
    static void assumeIpv6() {
        boolean any;
        try {
            Path p = Path.of("/proc/net/if_inet6");
            any = Files.exists(p) && !Files.readString(p).isBlank();
        } catch (IOException e) {
            any = false;
        }
        assumeTrue(any, "IPv6 is off on this host: /proc/net/if_inet6 is missing or empty, so ::1 does not exist");
    }

    /** Whether an executable named {@code tool} is on the PATH. */
    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
