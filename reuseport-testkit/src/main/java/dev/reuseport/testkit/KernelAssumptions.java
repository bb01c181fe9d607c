package dev.reuseport.testkit;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a kernel test needs from the machine, decided so that a broken probe cannot hide behind a skip:
 * where root or the kernel is missing the test is skipped with the reason; where this process is root on a
 * kernel at least as new as the feature needs and the probe still says unsupported, the test fails.
 * Reads {@code /proc} only, so it works before any reuseport module loads.
 */
public final class KernelAssumptions {
    private KernelAssumptions() {
    }

    /** This process's uid (the owner of /proc/self). */
    public static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether this process runs as root. */
    public static boolean isRoot() {
        return uid() == 0;
    }

    /** The running kernel's release ({@code uname -r}). */
    public static String release() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the kernel release", e);
        }
    }

    /** Whether the running kernel is at least {@code major.minor}. */
    public static boolean kernelAtLeast(int major, int minor) {
        return atLeast(release(), major, minor);
    }

    /** Whether {@code release} (e.g. {@code 6.18.44-foo}) is at least {@code major.minor}. */
    static boolean atLeast(String release, int major, int minor) {
        Matcher m = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(release);
        if (!m.find()) {
            throw new IllegalStateException("cannot parse the kernel release '" + release + "'");
        }
        int ma = Integer.parseInt(m.group(1));
        int mi = Integer.parseInt(m.group(2));
        return ma > major || (ma == major && mi >= minor);
    }

    /** Root on a kernel at least {@code major.minor}: where a feature of that kernel must be on. */
    public static boolean mustSupport(int major, int minor) {
        return isRoot() && kernelAtLeast(major, minor);
    }

    /**
     * Requires {@code feature}, which the kernel has from {@code major.minor} on (as root): fails when this
     * process is root on such a kernel and {@code supported} is false (the probe is wrong, not the
     * machine); otherwise skips when it is false, with {@code why} (the probe's reason).
     */
    public static void require(String feature, int major, int minor, boolean supported, Supplier<String> why) {
        if (!supported && mustSupport(major, minor)) {
            fail("root on Linux " + release() + " (>= " + major + "." + minor + "): " + feature + " must be "
                    + "supported; a probe saying otherwise is a bug, not a reason to skip: " + why.get());
        }
        assumeTrue(supported, () -> feature + " is not available here (root: " + isRoot() + ", kernel " + release()
                + "): " + why.get());
    }

    /** Skips, with the reason, unless this process runs as root. */
    public static void assumeRoot(String why) {
        assumeTrue(isRoot(), () -> "needs root (uid " + uid() + "): " + why);
    }

    /** Skips with the reason when the host has no IPv6 address at all (not even ::1). */
    public static void assumeIpv6() {
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
    public static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
