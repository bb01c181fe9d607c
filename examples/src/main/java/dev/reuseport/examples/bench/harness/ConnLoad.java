package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** {@link #CLIENTS} client threads in this JVM, each opening a connection per request until stopped. */
public final class ConnLoad {
    /** Client threads. */
    public static final int CLIENTS = 8;
    /** Connect and read timeout of one request. */
    public static final int TIMEOUT_MILLIS = 5000;
    /** Failures kept with their time for the report. */
    public static final int KEPT_FAILURES = 10_000;
    public record Failure(long started, long nanos, String reason) {
    }

    private final InetSocketAddress target;
    private final boolean halfClose;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopped;
    public final LongAdder ok = new LongAdder();
    public final LongAdder failed = new LongAdder();
    private final ConcurrentHashMap<String, LongAdder> reasons = new ConcurrentHashMap<>();
    public final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger kept = new AtomicInteger();

    private final int timeoutMillis;

    public ConnLoad(InetSocketAddress target, boolean halfClose) {
        this(target, halfClose, TIMEOUT_MILLIS);
    }

    /** With a connect and read timeout of its own (a client that waits out a restart). */
    public ConnLoad(InetSocketAddress target, boolean halfClose, int timeoutMillis) {
        this.target = target;
        this.halfClose = halfClose;
        this.timeoutMillis = timeoutMillis;
    }

    public void start(long maxMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        for (int t = 0; t < CLIENTS; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (long i = 0; i < 100_000_000L && !stopped && System.nanoTime() < deadline; i++) {
                    long t0 = System.nanoTime();
                    String why = once((byte) ('a' + (id + i) % 26));
                    if (why == null) {
                        ok.increment();
                    } else {
                        failed.increment();
                        reasons.computeIfAbsent(why, k -> new LongAdder()).increment();
                        if (kept.incrementAndGet() <= KEPT_FAILURES) {
                            failures.add(new Failure(t0, System.nanoTime(), why));
                        }
                    }
                }
            }, "restart-load-" + t);
            threads.add(th);
            th.start();
        }
    }

    /**
     * Lowers the scheduling priority of this load's threads (setpriority on each thread id, through
     * {@code renice}): only this process's own threads, found by name in /proc/self/task. Returns how
     * many were reniced, or -1 when renice failed.
     */
    public int lowerPriority(int nice) {
        List<String> cmd = new ArrayList<>(List.of("renice", "-n", Integer.toString(nice), "-p"));
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    if (Files.readString(t.resolve("comm")).startsWith("restart-load-")) {
                        cmd.add(t.getFileName().toString());
                    }
                } catch (IOException e) {
                    // the thread ended
                }
            }
        } catch (IOException e) {
            return -1;
        }
        int n = cmd.size() - 4;
        if (n == 0) {
            return 0;
        }
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            return p.exitValue() == 0 ? n : -1;
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    public void stop() throws InterruptedException {
        stopped = true;
        for (Thread th : threads) {
            th.join(2L * timeoutMillis + 5000);
        }
    }

    public Map<String, Long> snapshotReasons() {
        Map<String, Long> m = new TreeMap<>();
        reasons.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    /** One request: null when the byte came back, else why not. */
    private String once(byte b) {
        String stage = "connect";
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(timeoutMillis);
            s.connect(target, timeoutMillis);
            stage = "write";
            s.getOutputStream().write(b);
            if (halfClose) {
                stage = "shutdownOutput";
                s.shutdownOutput();
            }
            stage = "read";
            InputStream in = s.getInputStream();
            int r = in.read();
            if (r < 0) {
                return "read: end of stream before the echo";
            }
            if ((byte) r != b) {
                return "read: another byte than was sent";
            }
            if (halfClose && in.read() >= 0) {
                return "read: more bytes than were sent";
            }
            return null;
        } catch (SocketTimeoutException e) {
            return stage + ": timed out after " + timeoutMillis + " ms";
        } catch (IOException e) {
            return stage + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }
}
