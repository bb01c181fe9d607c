package dev.reuseport.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child process that runs beside the test (a server the test drives load against), its output lines
 * echoed to the test's log with a tag and kept for {@link #await}. {@link #close()} ends it (closing its
 * standard input first, then killing it after a grace period) and waits for it.
 */
public final class ChildLines implements AutoCloseable {
    private final String tag;
    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ChildLines(String tag, Process process) {
        this.tag = tag;
        this.process = process;
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    System.out.println("[" + tag + "] " + l);
                    lines.add(l);
                }
            } catch (IOException e) {
                // the child went away
            }
        }, "child-" + tag + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code command} (a {@link ChildJvm#javaCommand}, say), standard error merged into its output.
     *
     * @param tag     names the child in the log
     * @param command the command
     * @return the running child
     * @throws IOException it could not start
     */
    public static ChildLines start(String tag, List<String> command) throws IOException {
        return new ChildLines(tag, new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /**
     * The process.
     *
     * @return the child process
     */
    public Process process() {
        return process;
    }

    /**
     * The first line not read before that starts with one of {@code prefixes}, waiting at most {@code max}.
     *
     * @param max      the longest wait
     * @param prefixes what the line starts with
     * @return the line, or null when none came in time (or the child ended first)
     * @throws InterruptedException interrupted
     */
    public String await(Duration max, String... prefixes) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            String l = lines.poll(50, TimeUnit.MILLISECONDS);
            if (l == null) {
                if (!process.isAlive() && lines.isEmpty()) {
                    Thread.sleep(50); // the reader may still be adding the last lines
                    if (lines.isEmpty()) {
                        return null;
                    }
                }
                continue;
            }
            for (String prefix : prefixes) {
                if (l.startsWith(prefix)) {
                    return l;
                }
            }
        }
        return null;
    }

    /**
     * Whether a line not read yet starts with {@code prefix} (it stays there for {@link #await}).
     *
     * @param prefix what the line starts with
     * @return true when such a line came and was not read
     */
    public boolean has(String prefix) {
        return lines.stream().anyMatch(l -> l.startsWith(prefix));
    }

    /**
     * Writes {@code line} and a newline to the child's standard input.
     *
     * @param line what to write
     * @throws IOException the child's input is closed
     */
    public void send(String line) throws IOException {
        OutputStream in = process.getOutputStream();
        in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    /**
     * Waits at most {@code max} for the child to end.
     *
     * @param max the longest wait
     * @return its exit status
     * @throws IllegalStateException it still runs after {@code max}
     * @throws InterruptedException interrupted
     */
    public int awaitExit(Duration max) throws InterruptedException {
        if (!process.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("child " + tag + " still runs after " + max);
        }
        return process.exitValue();
    }

    /**
     * Kills the child now, as {@code kill -9} would.
     *
     * @throws InterruptedException interrupted while waiting for it to end
     */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Closes the child's standard input, gives it 5 s to end, then kills it. */
    @Override
    public void close() throws InterruptedException {
        try {
            OutputStream in = process.getOutputStream();
            in.close();
        } catch (IOException e) {
            // already gone
        }
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            kill();
        }
    }
}
