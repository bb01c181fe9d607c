package dev.reuseport.examples.bench.harness;

import dev.reuseport.examples.Main;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running this JAR's classes (same java, same class path), for benchmarks that compare
 * backends side by side: the backend is chosen once per JVM. The child prints {@code READY <value>}
 * when it is serving and stops when its standard input closes.
 */
public final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final String ready;
    private final BufferedReader output;

    private ChildJvm(Process process, String ready, BufferedReader output) {
        this.process = process;
        this.ready = ready;
        this.output = output;
    }

    /**
     * Runs {@code bench <benchArgs>} of this JAR again in a child JVM inside {@code unshare -n} (a private
     * network namespace: needs root), copying its output to {@code out} line by line.
     *
     * @param out      where the child's output goes
     * @param benchArgs the bench subcommand and its options
     * @return the child's exit status
     * @throws IOException          when the child cannot start
     * @throws InterruptedException when interrupted while waiting for it
     */
    public static int benchInNetns(java.io.PrintWriter out, List<String> benchArgs)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("unshare", "-n", "--", javaBinary()));
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench"));
        cmd.addAll(benchArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.println(line);
                out.flush();
            }
        }
        return p.waitFor();
    }

    /** The java binary of this JVM. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Starts {@code Main} with {@code args} and JVM {@code jvmArgs}; waits up to 30 s for READY. */
    public static ChildJvm start(List<String> jvmArgs, String... args) throws IOException {
        return startMain(jvmArgs, System.getProperty("java.class.path"), Main.class.getName(), args);
    }

    /**
     * Starts {@code mainClass} from another class path (an application apart from this JAR, such as the
     * WebFlux example) with {@code args} and JVM {@code jvmArgs}; waits up to 60 s for READY.
     */
    public static ChildJvm startMain(List<String> jvmArgs, String classPath, String mainClass, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String line;
        while (System.nanoTime() < deadline && (line = r.readLine()) != null) {
            if (line.startsWith("READY ")) {
                return new ChildJvm(p, line.substring(6).trim(), r);
            }
        }
        p.destroyForcibly();
        throw new IOException("child JVM " + cmd + " did not report READY within 60 s");
    }

    /** What the child reported after READY. */
    public String ready() {
        return ready;
    }

    /**
     * Writes {@code command} as a line to the child's standard input and returns the next line it prints
     * that starts with {@code answerPrefix} (for a child that answers questions while it serves).
     */
    public String ask(String command, String answerPrefix) throws IOException {
        process.getOutputStream().write((command + "\n").getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
        String line;
        while ((line = output.readLine()) != null) {
            if (line.startsWith(answerPrefix)) {
                return line.substring(answerPrefix.length()).trim();
            }
        }
        throw new IOException("child JVM ended before answering '" + command + "'");
    }

    /** CPU time the child has used so far, in nanoseconds; -1 where the OS does not say. */
    public long cpuNanos() {
        return process.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(-1L);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        process.getOutputStream().close();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
