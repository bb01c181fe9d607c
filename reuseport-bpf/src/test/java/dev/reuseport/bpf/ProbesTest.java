package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
        assumeTrue(KernelSupport.isRoot(), "the probes can only all be ON as root (uid " + dev.reuseport.sys.internal.Sys.uid() + ")");
        assumeTrue(KernelSupport.kernelAtLeast(5, 14),
                () -> "SELECT_OR_MIGRATE needs Linux 5.14; this is " + KernelSupport.release());
        List<Feature> features = Probes.steering();
        features.forEach(f -> System.out.println("probe: " + f));
        assertThat(features).extracting(Feature::name).containsExactlyElementsOf(STEERING_FEATURES);
        assertThat(features).as("root on Linux %s: every steering feature must be ON: %s", KernelSupport.release(),
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
        assumeTrue(KernelSupport.isRoot(), "dropping CAP_BPF from a child needs root (uid "
                + dev.reuseport.sys.internal.Sys.uid() + ")");
        assumeTrue(KernelSupport.onPath("setpriv"), "setpriv (util-linux) is not installed: cannot start a child without CAP_BPF");
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
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        if (System.getProperty("reuseport.backend") != null) {
            cmd.add("-Dreuseport.backend=" + System.getProperty("reuseport.backend"));
        }
        String lib = System.getProperty(dev.reuseport.sys.internal.LibBpf.PATH_PROPERTY);
        if (passLibbpf && lib != null) {
            cmd.add("-D" + dev.reuseport.sys.internal.LibBpf.PATH_PROPERTY + "=" + lib);
        }
        cmd.addAll(List.of(props));
        cmd.add("-cp");
        cmd.add(classPath());
        cmd.add(PrintSteeringFeatures.class.getName());

        Path out = Files.createTempFile("probes-child", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            boolean done = p.waitFor(120, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            System.out.println("[child " + String.join(" ", prefix) + " " + String.join(" ", props) + "]\n" + text);
            assertThat(done).as("child finished in 120 s: %s", text).isTrue();
            assertThat(p.exitValue()).as("child exit status; output: %s", text).isZero();
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
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

}
