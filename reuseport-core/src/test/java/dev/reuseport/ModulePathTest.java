package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged JARs as named modules: a small application module ({@code src/test/module-path/app},
 * {@code requires dev.reuseport;}) is compiled against them and run in a child JVM of this same JDK with
 * {@code --module-path} only, no class path. So it runs on JDK 25 (FFM backend, the multi-release part of
 * reuseport-native) and on JDK 17 (jnr-ffi, whose generated proxies need the opened binding package).
 *
 * <p>The module path is this module's JAR plus its runtime dependencies as Maven resolved them (written by
 * maven-dependency-plugin, Micrometer left out to prove it optional); see reuseport-core's pom.xml.
 */
class ModulePathTest {

    /** Packages each module exports to everyone: its API, nothing else. */
    private static final Map<String, Set<String>> API = Map.of(
            "dev.reuseport.sys", Set.of("dev.reuseport.sys"),
            "dev.reuseport.bpf", Set.of("dev.reuseport.bpf"),
            "dev.reuseport", Set.of("dev.reuseport", "dev.reuseport.micrometer"));

    @TempDir
    static Path work;

    private static List<Path> modulePath;
    private static Path sources;
    private static Path app;

    @BeforeAll
    static void compileTheApplicationModule() throws IOException {
        Path jar = Path.of(property("reuseport.moduleTest.jar"));
        Path dependencies = Path.of(property("reuseport.moduleTest.dependencies"));
        sources = Path.of(property("reuseport.moduleTest.sources"));
        assertThat(jar).as("the packaged reuseport-core JAR").isRegularFile();
        modulePath = new ArrayList<>();
        modulePath.add(jar);
        for (String entry : Files.readString(dependencies).trim().split(File.pathSeparator)) {
            modulePath.add(Path.of(entry));
        }
        assertThat(modulePath).as("the module path").allSatisfy(p -> assertThat(p).exists())
                .noneMatch(p -> p.getFileName().toString().startsWith("micrometer-"));
        app = work.resolve("app");
        Compiled c = javac(sources.resolve("app"), app);
        assertThat(c.ok).as("javac of the application module:\n" + c.output).isTrue();
    }

    @Test
    void modulesExportOnlyTheirApiPackages() {
        Map<String, ModuleDescriptor> ours = new TreeMap<>();
        for (ModuleReference ref : ModuleFinder.of(modulePath.toArray(Path[]::new)).findAll()) {
            if (API.containsKey(ref.descriptor().name())) {
                ours.put(ref.descriptor().name(), ref.descriptor());
            }
        }
        assertThat(ours.keySet()).containsExactlyInAnyOrderElementsOf(API.keySet());
        for (ModuleDescriptor d : ours.values()) {
            assertThat(d.isAutomatic()).as(d.name() + " has a module-info").isFalse();
            Set<String> toAll = d.exports().stream().filter(e -> !e.isQualified())
                    .map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
            assertThat(toAll).as(d.name() + " exports to everyone").isEqualTo(API.get(d.name()));
        }
        ModuleDescriptor sys = ours.get("dev.reuseport.sys");
        assertThat(sys.exports()).filteredOn(ModuleDescriptor.Exports::isQualified)
                .singleElement().satisfies(e -> {
                    assertThat(e.source()).isEqualTo("dev.reuseport.sys.internal");
                    assertThat(e.targets()).containsExactlyInAnyOrder("dev.reuseport.bpf", "dev.reuseport");
                });
        // Opened to everyone at run time for jnr-ffi's generated classes; it holds only the two bindings.
        assertThat(sys.opens()).singleElement().satisfies(o -> {
            assertThat(o.source()).isEqualTo("dev.reuseport.sys.internal.jnr");
            assertThat(o.isQualified()).isFalse();
        });
        assertThat(ours.get("dev.reuseport.bpf").opens()).isEmpty();
        assertThat(ours.get("dev.reuseport").opens()).isEmpty();
        // The FFM backend stays in the base descriptor's package, loaded from META-INF/versions/22.
        assertThat(sys.packages()).contains("dev.reuseport.sys.internal", "dev.reuseport.sys.internal.jnr");
    }

    @Test
    void internalPackagesDoNotCompileFromAnotherModule() throws IOException {
        Compiled c = javac(sources.resolve("internals"), work.resolve("internals"));
        assertThat(c.ok).as("javac of a module using reuseport's internals:\n" + c.output).isFalse();
        assertThat(c.output)
                .contains("package dev.reuseport.sys.internal is not visible")
                .contains("package dev.reuseport.sys.internal.jnr is not visible")
                .contains("which does not export it");
    }

    @Test
    void namedModuleOpensAGroupAndAcceptsOnTheModulePath() throws Exception {
        List<String> cmd = java();
        if (Runtime.version().feature() >= 22) {
            // dev.reuseport.sys makes the FFM calls; jffi's JNI stub is loaded by jnr-unixsocket (the
            // control socket) from its own module.
            cmd.add("--enable-native-access=dev.reuseport.sys,org.jnrproject.jffi");
        }
        cmd.addAll(List.of("--module-path", app + File.pathSeparator + joined(modulePath),
                "--module", "dev.reuseport.moduletest/dev.reuseport.moduletest.Main"));
        Child child = run(cmd);

        assertThat(child.exit).as("exit code; stdout:\n" + child.out + "\nstderr:\n" + child.err).isZero();
        assertThat(child.out).contains("modules app=dev.reuseport.moduletest core=dev.reuseport sys=dev.reuseport.sys");
        String expected = System.getProperty("reuseport.expectBackend");
        if (expected != null) {
            assertThat(child.out).contains("backend=" + expected);
        }
        assertThat(child.out).contains("workers=2").containsPattern("accepted worker=[01] echoed=ping")
                .containsPattern("control ok=true lines=[1-9]");
        // The same steering decision as this JVM makes on the class path: on a host with BPF that means
        // the steering program loaded from the resource inside the dev.reuseport.bpf module.
        try (ReuseportGroup here = ReuseportGroup.tcp().address("127.0.0.1").port(0).workers(2)
                .policy(Policy.roundRobin()).open()) {
            assertThat(child.out).contains("steering=" + here.capabilities().steering() + "\n");
        }
        assertThat(child.out).contains("internal=denied");
        // With the modules named right, the JDK prints no native-access warning.
        assertThat(child.err).doesNotContain("restricted method").doesNotContain("--enable-native-access");
    }

    @Test
    void deniedNativeAccessNamesTheFlagForTheModulePathAndForTheClassPath() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24,
                "--illegal-native-access=deny exists from JDK 24; this is JDK " + Runtime.version().feature());
        List<String> denied = List.of("--illegal-native-access=deny", "-Dreuseport.backend=ffm");

        List<String> onModulePath = java();
        onModulePath.addAll(denied);
        onModulePath.addAll(List.of("--module-path", app + File.pathSeparator + joined(modulePath),
                "--module", "dev.reuseport.moduletest/dev.reuseport.moduletest.Main"));
        List<String> onClassPath = java();
        onClassPath.addAll(denied);
        onClassPath.addAll(List.of("-cp", app + File.pathSeparator + joined(modulePath),
                "dev.reuseport.moduletest.Main"));
        // the two children are independent (each fails at its first native call): they run side by side
        Process first = start(onModulePath, "named");
        Child named;
        Child unnamed;
        try {
            Process second = start(onClassPath, "unnamed");
            try {
                named = finish(first, onModulePath, "named");
                unnamed = finish(second, onClassPath, "unnamed");
            } finally {
                second.destroyForcibly(); // ended already, unless a wait above failed
            }
        } finally {
            first.destroyForcibly();
        }

        assertThat(named.exit).isNotZero();
        assertThat(named.err).contains("--enable-native-access=dev.reuseport.sys")
                .doesNotContain("--enable-native-access=ALL-UNNAMED");
        assertThat(unnamed.out).contains("modules app=null core=null sys=null");
        assertThat(unnamed.exit).isNotZero();
        assertThat(unnamed.err).contains("--enable-native-access=ALL-UNNAMED")
                .doesNotContain("--enable-native-access=dev.reuseport.sys");
    }

    // ---- helpers --------------------------------------------------------------------------------------

    private static String property(String name) {
        String value = System.getProperty(name);
        assertThat(value).as("system property " + name + " (set by failsafe in reuseport-core's pom.xml)")
                .isNotBlank();
        return value;
    }

    private static String joined(List<Path> paths) {
        return paths.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
    }

    private record Compiled(boolean ok, String output) {
    }

    /** javac of the one module whose sources are under {@code root}, against the packaged module path. */
    private static Compiled javac(Path root, Path out) throws IOException {
        Optional<ToolProvider> javac = ToolProvider.findFirst("javac");
        assertThat(javac).as("javac in " + System.getProperty("java.home")).isPresent();
        // An empty class path: javac in this JVM would otherwise default to this JVM's class path, which
        // holds the same JARs as unnamed-module classes.
        Path noClassPath = Files.createDirectories(work.resolve("empty-class-path"));
        List<String> args = new ArrayList<>(List.of("-d", out.toString(), "--module-path", joined(modulePath),
                "--class-path", noClassPath.toString(), "-Xlint:all", "-Werror"));
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(f -> f.toString().endsWith(".java")).map(Path::toString).forEach(args::add);
        }
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(text, true, StandardCharsets.UTF_8)) {
            int rc = javac.get().run(ps, ps, args.toArray(String[]::new));
            return new Compiled(rc == 0, text.toString(StandardCharsets.UTF_8));
        }
    }

    private record Child(int exit, String out, String err) {
    }

    /** The java launcher of the JDK this test runs on, with the libbpf override passed through. */
    private static List<String> java() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String libbpf = System.getProperty("reuseport.libbpf");
        if (libbpf != null) {
            cmd.add("-Dreuseport.libbpf=" + libbpf);
        }
        return cmd;
    }

    private static Child run(List<String> cmd) throws IOException, InterruptedException {
        return finish(start(cmd, "child"), cmd, "child");
    }

    /** Starts {@code cmd}, its output and error to {@code name}.out and {@code name}.err in the work directory. */
    private static Process start(List<String> cmd, String name) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectOutput(work.resolve(name + ".out").toFile())
                .redirectError(work.resolve(name + ".err").toFile());
        pb.environment().remove("CLASSPATH");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        return pb.start();
    }

    /** Waits (at most 120 s, then kills it) for a child {@link #start}ed as {@code name}; its outcome. */
    private static Child finish(Process p, List<String> cmd, String name) throws IOException, InterruptedException {
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("child did not finish in 120 s: " + cmd);
        }
        String out = Files.readString(work.resolve(name + ".out"));
        String err = Files.readString(work.resolve(name + ".err"));
        System.out.println("[child] " + String.join(" ", cmd) + "\n[child out] " + out.replace("\n", "\n[child out] ")
                + "\n[child err] " + err.replace("\n", "\n[child err] "));
        return new Child(p.exitValue(), out, err);
    }
}
