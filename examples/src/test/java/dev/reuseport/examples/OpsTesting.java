package dev.reuseport.examples;

import dev.reuseport.examples.bench.harness.ChildJvm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Helpers of the operating-surface tests: the examples JAR, tools on PATH, a serving echo child. */
final class OpsTesting {
    private OpsTesting() {
    }

    /** The executable examples JAR the build made (shade), or null when the build has not packaged it. */
    static Path examplesJar() {
        Path p = Path.of("target", "reuseport-examples.jar").toAbsolutePath();
        return Files.isRegularFile(p) ? p : null;
    }

    /** A tool's path from the usual directories, or null. */
    static String tool(String name) {
        for (String d : List.of("/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin")) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** The command that runs the examples JAR on this test's JVM. */
    static List<String> javaJar(Path jar) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.javaBinary());
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.add("-jar");
        cmd.add(jar.toString());
        return cmd;
    }

    /** An echo server in a child process, serving until closed (destroyed by pid). */
    static final class EchoChild implements AutoCloseable {
        final Process process;
        final int port;
        final StringBuilder output = new StringBuilder();

        EchoChild(Path jar, String... args) throws IOException {
            List<String> cmd = javaJar(jar);
            cmd.add("echo");
            cmd.add("--serve");
            cmd.addAll(List.of(args));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String line;
            int p = -1;
            while (System.nanoTime() < deadline && (line = r.readLine()) != null) {
                output.append(line).append('\n');
                if (line.startsWith("READY ")) {
                    p = Integer.parseInt(line.substring(6).trim());
                    break;
                }
            }
            if (p < 0) {
                process.destroyForcibly();
                throw new IOException("echo child did not report READY within 60 s:\n" + output);
            }
            port = p;
            Thread drain = new Thread(() -> {
                try {
                    String l;
                    while ((l = r.readLine()) != null) {
                        synchronized (output) {
                            output.append(l).append('\n');
                        }
                    }
                } catch (IOException e) {
                    // child gone
                }
            }, "echo-child-output");
            drain.setDaemon(true);
            drain.start();
        }

        /** {@code n} TCP requests to the child, each a connection with one echoed byte. */
        void load(int n) throws IOException {
            for (int i = 0; i < n; i++) {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    s.setSoTimeout(5000);
                    s.getOutputStream().write('x');
                    s.getInputStream().read();
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Runs a command to its end (at most {@code seconds}); returns exit status and combined output. */
    static String[] run(List<String> cmd, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try {
                p.getInputStream().transferTo(buf);
            } catch (IOException e) {
                // process gone
            }
        }, "run-output");
        reader.setDaemon(true);
        reader.start();
        try {
            p.getOutputStream().close();
            boolean ended = p.waitFor(seconds, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            reader.join(5000);
            String out;
            synchronized (buf) {
                out = buf.toString(StandardCharsets.UTF_8);
            }
            return new String[] {ended ? Integer.toString(p.exitValue()) : "timeout", out};
        } finally {
            p.destroyForcibly();
        }
    }
}
