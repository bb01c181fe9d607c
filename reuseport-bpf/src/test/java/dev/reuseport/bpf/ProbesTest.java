package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.KernelAssumptions;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The capability probes: everything ON as root on this kernel, and in child JVMs the three ways a
 * feature can be missing (no libbpf, no CAP_BPF, the switch), each reported for what it is.
 */
@Tag("kernel")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ProbesTest {
    private static final List<String> STEERING_FEATURES = List.of(Probes.LIBBPF, Probes.PRIVILEGE, Probes.PROGRAM,
            Probes.SOCKARRAY, Probes.STEERING, Probes.MIGRATE, Probes.DETACH);
    /** Features that need libbpf and the privilege (everything after those two). */
    private static final List<String> DEPENDENT = STEERING_FEATURES.subList(2, STEERING_FEATURES.size());
    private static final String MISSING_LIBBPF = "/nonexistent/libbpf.so.1";

    @Test
    void everySteeringFeatureIsOnAsRootOnThisKernel() {
        assumeTrue(KernelAssumptions.isRoot(), "the probes can only all be ON as root (uid " + dev.reuseport.sys.internal.Sys.uid() + ")");
        assumeTrue(KernelAssumptions.kernelAtLeast(5, 14),
                () -> "SELECT_OR_MIGRATE needs Linux 5.14; this is " + KernelAssumptions.release());
        List<Feature> features = Probes.steering();
        features.forEach(f -> System.out.println("probe: " + f));
        assertThat(features).extracting(Feature::name).containsExactlyElementsOf(STEERING_FEATURES);
        assertThat(features).as("root on Linux %s: every steering feature must be ON: %s", KernelAssumptions.release(),
                features).allMatch(Feature::isOn);
        assertThat(Probes.steeringAvailable(features)).isTrue();
        assertThat(Probes.firstMissing(features)).isNull();
    }

    @Test
    void soReuseportIsOn() {
        Feature f = Probes.soReuseport();
        assertThat(f.isOn()).as("%s", f).isTrue();
        assertThat(f.name()).isEqualTo(Probes.SO_REUSEPORT);
    }

    @Test
    void missingLibbpfTurnsOffEverythingThatNeedsItNamingThePath() throws Exception {
        Map<String, Feature> f = childFeatures(List.of(), false, "-D" + dev.reuseport.sys.internal.LibBpf.PATH_PROPERTY + "="
                + MISSING_LIBBPF);
        Feature lib = f.get(Probes.LIBBPF);
        assertThat(lib.state()).as("%s", lib).isEqualTo(Feature.State.OFF);
        assertThat(lib.detail()).as("libbpf detail names the path tried").contains(MISSING_LIBBPF);
        for (String name : DEPENDENT) {
            Feature d = f.get(name);
            assertThat(d.state()).as("%s", d).isEqualTo(Feature.State.OFF);
            assertThat(d.detail()).as("%s", d).startsWith("needs libbpf").contains(MISSING_LIBBPF);
        }
    }

    @Test
    void withoutCapBpfPrivilegeIsInconclusiveNeverKernelOff() throws Exception {
        assumeTrue(KernelAssumptions.isRoot(), "dropping CAP_BPF from a child needs root (uid "
                + dev.reuseport.sys.internal.Sys.uid() + ")");
        assumeTrue(KernelAssumptions.onPath("setpriv"), "setpriv (util-linux) is not installed: cannot start a child without CAP_BPF");
        List<String> drop = List.of("setpriv", "--bounding-set", "-bpf,-sys_admin", "--inh-caps", "-bpf,-sys_admin");
        Map<String, Feature> f = childFeatures(drop, true);
        assertThat(f.get(Probes.LIBBPF).isOn()).as("%s", f.get(Probes.LIBBPF)).isTrue();
        Feature priv = f.get(Probes.PRIVILEGE);
        assertThat(priv.state()).as("%s", priv).isEqualTo(Feature.State.INCONCLUSIVE);
        assertThat(priv.detail()).as("%s", priv).contains("CAP_BPF");
        for (String name : DEPENDENT) {
            Feature d = f.get(name);
            assertThat(d.state()).as("%s", d).isEqualTo(Feature.State.INCONCLUSIVE);
            assertThat(d.detail()).as("%s", d).contains(Probes.PRIVILEGE);
        }
        assertThat(f.values()).as("no feature may blame the kernel for a missing privilege")
                .noneMatch(x -> x.state() == Feature.State.OFF && x.detail().toLowerCase().contains("kernel"))
                .noneMatch(x -> x.state() == Feature.State.OFF);
    }

    @Test
    void switchTurnsEveryFeatureOff() throws Exception {
        Map<String, Feature> f = childFeatures(List.of(), true, "-D" + Probes.BPF_SWITCH + "=false");
        assertThat(f.values()).as("features with -D%s=false", Probes.BPF_SWITCH)
                .allSatisfy(x -> {
                    assertThat(x.state()).as("%s", x).isEqualTo(Feature.State.OFF);
                    assertThat(x.detail()).as("%s", x).contains("turned off");
                });
    }

    /**
     * Runs {@link PrintSteeringFeatures} in a child JVM (this java, this class path, this backend),
     * started through {@code prefix}, and returns its features by name, in order.
     */
    private static Map<String, Feature> childFeatures(List<String> prefix, boolean passLibbpf, String... props)
            throws IOException, InterruptedException {
        List<String> java = ChildJvm.javaCommand(PrintSteeringFeatures.class);
        if (!passLibbpf) {
            java.removeIf(a -> a.startsWith("-D" + dev.reuseport.sys.internal.LibBpf.PATH_PROPERTY + "="));
        }
        java.addAll(1, List.of(props));
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(java);
        ChildJvm.Outcome o = ChildJvm.runCommand(cmd, PrintSteeringFeatures.class);
        String text = o.output();
        System.out.println("[child " + String.join(" ", prefix) + " " + String.join(" ", props) + "]");
        assertThat(o.exit()).as("child exit status; output: %s", text).isZero();
        Map<String, Feature> features = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("FEATURE|")) {
                String[] part = line.split("\\|", 4);
                features.put(part[1], new Feature(part[1], Feature.State.valueOf(part[2]), part[3], "-"));
            }
        }
        assertThat(features.keySet()).as("features the child printed: %s", text)
                .containsExactlyElementsOf(STEERING_FEATURES);
        return features;
    }
}
