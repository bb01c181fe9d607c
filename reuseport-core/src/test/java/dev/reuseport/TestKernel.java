package dev.reuseport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Helpers for tests on the real kernel: fd counting and child JVMs in private network namespaces. */
final class TestKernel {
    private TestKernel() {
    }

    /** Open descriptors of this process. */
    static int openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    /**
     * The descriptors this library could leak, as {@code "fd -> target"}: sockets and BPF objects
     * (programs, maps). JAR files the JVM opens lazily for class loading are not among them.
     */
    static java.util.Set<String> sockets() throws IOException {
        return descriptors(t -> t.startsWith("socket:") || t.startsWith("anon_inode:bpf"));
    }

    /** This process's descriptors whose link target {@code keep} accepts, as {@code "fd -> target"}. */
    static java.util.Set<String> descriptors(java.util.function.Predicate<String> keep) throws IOException {
        java.util.Set<String> out = new java.util.TreeSet<>();
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (keep.test(target)) {
                        out.add(p.getFileName() + " -> " + target);
                    }
                } catch (IOException gone) {
                    // closed while listing (the listing's own descriptor, or a close in another thread)
                }
            }
        }
        return out;
    }

    /** Sockets and BPF objects open now that were not open at {@code before}. */
    static java.util.Set<String> leakedSince(java.util.Set<String> before) throws IOException {
        java.util.Set<String> now = sockets();
        now.removeAll(before);
        return now;
    }

    /** The class path of this test JVM (failsafe passes it in a property when it uses a manifest JAR). */
    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** Output and exit status of a child. */
    record Outcome(int exit, String output) {
    }

    /**
     * Runs {@code main} in a new JVM (same java, same class path, same backend property) inside a fresh
     * network namespace made with {@code unshare -n}, after running {@code setup} there (a shell
     * snippet; loopback is brought up first). Skips, with the reason, when namespaces cannot be made here.
     */
    static Outcome inNetns(String setup, Class<?> main, String... args) throws IOException, InterruptedException {
        assumeTrue(canUnshare(), "cannot create a network namespace here (needs root and unshare): " + unshareError);
        StringBuilder script = new StringBuilder("ip link set lo up && ");
        if (setup != null && !setup.isBlank()) {
            script.append(setup).append(" && ");
        }
        script.append("exec");
        for (String a : javaCommand(main, args)) {
            script.append(" '").append(a.replace("'", "'\\''")).append("'");
        }
        return run(List.of("unshare", "-n", "sh", "-c", script.toString()), main);
    }

    /** Runs {@code main} in a new JVM (same java, class path and backend property) in this namespace. */
    static Outcome child(Class<?> main, String... args) throws IOException, InterruptedException {
        return run(javaCommand(main, args), main);
    }

    /** As {@link #child(Class, String...)} with extra JVM options. */
    static Outcome child(List<String> jvmOptions, Class<?> main, String... args)
            throws IOException, InterruptedException {
        return child(jvmOptions, List.of(), main, args);
    }

    /** As {@link #child(Class, String...)} with extra JVM options, the java command run under {@code prefix}. */
    static Outcome child(List<String> jvmOptions, List<String> prefix, Class<?> main, String... args)
            throws IOException, InterruptedException {
        List<String> java = javaCommand(main, args);
        java.addAll(1, jvmOptions);
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(java);
        return run(cmd, main);
    }

    private static Outcome run(List<String> command, Class<?> main) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("child " + main.getName() + " did not finish in 120 s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.println("[child " + main.getSimpleName() + "] " + text.replace("\n", "\n[child] "));
        return new Outcome(p.exitValue(), text);
    }

    static List<String> javaCommand(Class<?> main, String... args) {
        List<String> java = new ArrayList<>();
        java.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (Runtime.version().feature() >= 22) {
            java.add("--enable-native-access=ALL-UNNAMED");
        }
        for (String p : new String[] {"reuseport.backend", "reuseport.libbpf"}) {
            if (System.getProperty(p) != null) {
                java.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        java.add("-cp");
        java.add(classPath());
        java.add(main.getName());
        java.addAll(List.of(args));
        return java;
    }

    private static Boolean unshareOk;
    private static String unshareError = "";

    static synchronized boolean canUnshare() {
        if (unshareOk == null) {
            try {
                Process p = new ProcessBuilder("unshare", "-n", "true").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                unshareOk = p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
                unshareError = out.trim();
            } catch (IOException | InterruptedException e) {
                unshareOk = false;
                unshareError = e.toString();
            }
        }
        return unshareOk;
    }
}
