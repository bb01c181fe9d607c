package dev.reuseport.testkit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@code main} class of the tests run in a new JVM: the same java, the same class path (failsafe's, from
 * the packaged JARs) and the same backend choice, either in this network namespace or in a fresh one made
 * with {@code unshare -n} (loopback up, every namespace sysctl at its default, nothing else listening).
 * The one place the tests of every module start a child JVM.
 */
public final class ChildJvm {
    /** System properties a child inherits when set here: the backend choice and the libbpf path. */
    public static final List<String> FORWARDED = List.of("reuseport.backend", "reuseport.libbpf");
    /** No child runs longer than this; one that does is killed and the test fails. */
    public static final long TIMEOUT_SECONDS = 150;

    private static Boolean unshareOk;
    private static String unshareError = "";

    private ChildJvm() {
    }

    /** Output (standard output and error, interleaved) and exit status of a child. */
    public record Outcome(int exit, String output) {
    }

    /** The class path of this test JVM (failsafe passes it in a property when it uses a manifest JAR). */
    public static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** The java binary of this JVM. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The command that runs {@code main} with {@code args} in a new JVM like this one: native access on
     * JDK 22+, the {@link #FORWARDED} properties, this class path. A mutable list (callers add options at 1).
     */
    public static List<String> javaCommand(Class<?> main, String... args) {
        List<String> java = new ArrayList<>();
        java.add(javaBinary());
        if (Runtime.version().feature() >= 22) {
            java.add("--enable-native-access=ALL-UNNAMED");
        }
        for (String p : FORWARDED) {
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

    /** Runs {@code main} in a new JVM in this namespace and waits for it. */
    public static Outcome run(Class<?> main, String... args) throws IOException, InterruptedException {
        return run(List.of(), List.of(), main, args);
    }

    /** As {@link #run(Class, String...)} with extra JVM options. */
    public static Outcome run(List<String> jvmOptions, Class<?> main, String... args)
            throws IOException, InterruptedException {
        return run(jvmOptions, List.of(), main, args);
    }

    /** As {@link #run(Class, String...)} with extra JVM options, the java command run under {@code prefix}. */
    public static Outcome run(List<String> jvmOptions, List<String> prefix, Class<?> main, String... args)
            throws IOException, InterruptedException {
        List<String> java = javaCommand(main, args);
        java.addAll(1, jvmOptions);
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(java);
        return await(cmd, main);
    }

    /**
     * Runs {@code main} in a new JVM inside a fresh network namespace made with {@code unshare -n}, after
     * running {@code setup} there (a shell snippet, or null; loopback is brought up first). Skips, with the
     * reason, where namespaces cannot be made here.
     */
    public static Outcome inNetns(String setup, Class<?> main, String... args) throws IOException, InterruptedException {
        assumeNetns();
        StringBuilder script = new StringBuilder("ip link set lo up && ");
        if (setup != null && !setup.isBlank()) {
            script.append(setup).append(" && ");
        }
        script.append("exec");
        for (String a : javaCommand(main, args)) {
            script.append(" '").append(a.replace("'", "'\\''")).append("'");
        }
        return await(List.of("unshare", "-n", "sh", "-c", script.toString()), main);
    }

    /** Skips, with the reason, where this process cannot make a network namespace (root and unshare needed). */
    public static void assumeNetns() {
        assumeTrue(canUnshare(), () -> "cannot create a network namespace here (needs root and unshare): "
                + unshareError);
    }

    /** Whether {@code unshare -n true} works here (tried once). */
    public static synchronized boolean canUnshare() {
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

    /**
     * Runs {@code command} (a {@link #javaCommand} the caller adjusted, perhaps under a prefix such as
     * {@code setpriv}) and waits for it, at most {@link #TIMEOUT_SECONDS}; {@code main} names it in the log.
     */
    public static Outcome runCommand(List<String> command, Class<?> main) throws IOException, InterruptedException {
        return await(command, main);
    }

    private static Outcome await(List<String> command, Class<?> main) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        // read on a thread of its own, so that a child that never ends is killed at the deadline
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = ("[reading the child's output failed: " + e + "]").getBytes(StandardCharsets.UTF_8);
            }
        }, "child-" + main.getSimpleName() + "-output");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException("child " + main.getName() + " did not finish in " + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly(); // a Batch closed early: no child outlives its test class
            throw e;
        }
        reader.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
        String text = out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8);
        System.out.println("[child " + main.getSimpleName() + "] " + text.replace("\n", "\n[child] "));
        return new Outcome(p.exitValue(), text);
    }

    /**
     * Children of one test class run side by side, at most {@code parallel} at a time, each started as it
     * is submitted (or when a place frees up) and awaited by its name from the test that asserts on it: for
     * a class whose children are independent (each in a network namespace of its own, or on ports of its
     * own), its tests then wait for one child each instead of running them one after another. The proof is
     * the same child and the same assertions; only the waiting overlaps. The test thread stays the one
     * JUnit thread (the kit's daemon threads only start and wait for processes), so classes never overlap:
     * close the batch in {@code @AfterAll}, which kills what still runs (a test filtered out, a failure).
     * Do not use it in a class whose tests take a census of this process's descriptors: a running child's
     * pipes are descriptors of this process.
     */
    public static final class Batch implements AutoCloseable {
        private final ExecutorService pool;
        private final Map<String, Future<Outcome>> runs = new LinkedHashMap<>();

        /**
         * A batch running at most {@code parallel} children at once.
         *
         * @param parallel children at once, 1 to 16
         */
        public Batch(int parallel) {
            if (parallel < 1 || parallel > 16) {
                throw new IllegalArgumentException("parallel " + parallel + "; accepted: 1 .. 16");
            }
            pool = Executors.newFixedThreadPool(parallel, r -> {
                Thread t = new Thread(r, "child-batch");
                t.setDaemon(true);
                return t;
            });
        }

        /**
         * Submits {@link ChildJvm#inNetns} of {@code main} under {@code name}; skips the calling test (or
         * class, from {@code @BeforeAll}) with the reason where namespaces cannot be made here.
         *
         * @param name  what {@link #await} calls it
         * @param setup shell snippet run in the namespace first, or null
         * @param main  the child's main class
         * @param args  its arguments
         */
        public synchronized void inNetns(String name, String setup, Class<?> main, String... args) {
            assumeNetns();
            submit(name, () -> ChildJvm.inNetns(setup, main, args));
        }

        /**
         * Submits {@link ChildJvm#run(List, List, Class, String...)} of {@code main} under {@code name}.
         *
         * @param name       what {@link #await} calls it
         * @param jvmOptions extra JVM options
         * @param prefix     command the java command runs under ({@code setpriv ...}), or empty
         * @param main       the child's main class
         * @param args       its arguments
         */
        public synchronized void run(String name, List<String> jvmOptions, List<String> prefix, Class<?> main,
                String... args) {
            submit(name, () -> ChildJvm.run(jvmOptions, prefix, main, args));
        }

        private void submit(String name, Callable<Outcome> child) {
            if (runs.containsKey(name)) {
                throw new IllegalArgumentException("a child named '" + name + "' is already in this batch");
            }
            runs.put(name, pool.submit(child));
        }

        /**
         * The outcome of the child submitted as {@code name}, waiting for it.
         *
         * @param name the name it was submitted under
         * @return its outcome
         * @throws IOException          it could not start, or did not finish in {@link #TIMEOUT_SECONDS}
         * @throws InterruptedException the wait was interrupted
         */
        public Outcome await(String name) throws IOException, InterruptedException {
            Future<Outcome> f;
            synchronized (this) {
                f = runs.get(name);
                if (f == null) {
                    throw new IllegalArgumentException("no child named '" + name + "' in this batch; submitted: "
                            + runs.keySet());
                }
            }
            try {
                return f.get(TIMEOUT_SECONDS + 60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof IOException io) {
                    throw io;
                }
                if (c instanceof RuntimeException r) {
                    throw r;
                }
                if (c instanceof Error err) {
                    throw err;
                }
                throw new IOException("child '" + name + "' failed", c);
            } catch (TimeoutException e) {
                throw new IOException("child '" + name + "' did not finish (queued and run) in "
                        + (TIMEOUT_SECONDS + 60) + " s", e);
            }
        }

        /** Kills the children still running and waits for their threads (at most 30 s). */
        @Override
        public void close() throws InterruptedException {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
    }
}
