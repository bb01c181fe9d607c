package dev.reuseport.examples.bench.harness;

import dev.reuseport.examples.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running this JAR's {@code Main} (as {@link ChildJvm} does): waits for its {@code READY}
 * line, keeps reading its output (kept for the report), and its standard error goes to a file in the
 * private directory.
 */
public final class ServingChild {
    private final Process process;
    private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
    private final Path errFile;

    private ServingChild(Process process, Path errFile) {
        this.process = process;
        this.errFile = errFile;
    }

    public static ServingChild start(List<ServingChild> owner, Path dir, int n, String... args) throws IOException,
            InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.javaBinary());
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(dev.reuseport.examples.Main.class.getName());
        cmd.addAll(List.of(args));
        Path err = dir.resolve("child-" + n + ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        ServingChild c = new ServingChild(p, err);
        owner.add(c);
        CountDownLatch ready = new CountDownLatch(1);
        String[] port = new String[1];
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                int count = 0;
                while ((line = r.readLine()) != null && count++ < 100_000) {
                    c.lines.add(line);
                    if (line.startsWith("READY ") && port[0] == null) {
                        port[0] = line.substring(6).trim();
                        ready.countDown();
                    }
                }
            } catch (IOException e) {
                // the child went away
            }
            ready.countDown();
        }, "child-" + n + "-stdout");
        reader.setDaemon(true);
        reader.start();
        if (!ready.await(30, TimeUnit.SECONDS) || port[0] == null) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IOException("child JVM " + n + " (" + String.join(" ", args) + ") did not report READY within "
                    + "30 s; exit " + (p.isAlive() ? "-" : p.exitValue()) + "; output: " + c.tail());
        }
        return c;
    }

    public long pid() {
        return process.pid();
    }

    public boolean saw(String text) {
        synchronized (lines) {
            return lines.stream().anyMatch(l -> l.contains(text)) || errText().contains(text);
        }
    }

    private String errText() {
        try {
            return Files.exists(errFile) ? Files.readString(errFile) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** WARNING and SEVERE records of the library's loggers (java.util.logging's two-line format), joined. */
    public String libraryWarnings() {
        String[] l = errText().split("\n");
        List<String> found = new ArrayList<>();
        for (int i = 0; i + 1 < l.length; i++) {
            if (l[i].contains(" dev.reuseport.") && (l[i + 1].startsWith("WARNING:") || l[i + 1].startsWith("SEVERE:"))) {
                found.add(l[i + 1].strip());
            }
        }
        return String.join(" | ", found);
    }

    /** The last lines of output and standard error, on one line. */
    public String tail() {
        List<String> all;
        synchronized (lines) {
            all = new ArrayList<>(lines);
        }
        for (String l : errText().split("\n")) {
            if (!l.isBlank()) {
                all.add("[stderr] " + l.strip());
            }
        }
        return String.join(" | ", all.subList(Math.max(0, all.size() - 8), all.size()));
    }

    /** Waits for the process to exit by itself; its status, or MIN_VALUE when it had to be killed. */
    public int awaitExit(Duration d) throws InterruptedException {
        if (process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
            return process.exitValue();
        }
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        return Integer.MIN_VALUE;
    }

    /** SIGTERM, then SIGKILL after {@code d}; the exit status. */
    public int stop(Duration d) throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
        }
        if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        return process.isAlive() ? Integer.MIN_VALUE : process.exitValue();
    }

    /** Kills the process when it is still alive. */
    public void kill() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
