package dev.reuseport;

import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounded TCP request/response load for serving tests: each client thread connects, sends one line,
 * reads the echo and closes, until stopped or its request budget is spent. Every request either gets its
 * exact answer or is counted (and its error kept) as failed.
 */
final class ServeLoad implements AutoCloseable {
    static final InetAddress LO = InetAddress.getLoopbackAddress();

    final AtomicLong sent = new AtomicLong();
    final AtomicLong answered = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();

    ServeLoad(int port, int clients, long maxRequestsEach) {
        for (int i = 0; i < clients; i++) {
            int id = i;
            Thread t = new Thread(() -> {
                for (long n = 0; n < maxRequestsEach && !stop.get(); n++) {
                    request(port, "c" + id + "-" + n);
                }
            }, "serve-load-" + i);
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
    }

    /** One request; true when answered exactly. */
    boolean request(int port, String line) {
        sent.incrementAndGet();
        try (Socket s = new Socket(LO, port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] want = (line + "\n").getBytes(StandardCharsets.US_ASCII);
            byte[] got = in.readNBytes(want.length);
            if (java.util.Arrays.equals(want, got)) {
                answered.incrementAndGet();
                return true;
            }
            failed.incrementAndGet();
            errors.add(line + ": got " + new String(got, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            failed.incrementAndGet();
            errors.add(line + ": " + e);
        }
        return false;
    }

    /** Waits (up to a minute) for every client to spend its budget. */
    void awaitDone() throws InterruptedException {
        for (Thread t : threads) {
            t.join(60_000);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(30_000);
        }
    }

    /** A handler echoing one line: reads until a newline, writes it back, returns (the library closes). */
    static final ConnectionHandler ECHO_LINE = c -> {
        ByteBuffer b = ByteBuffer.allocate(256);
        while (b.position() == 0 || b.get(b.position() - 1) != '\n') {
            if (c.read(b) < 0) {
                return;
            }
        }
        b.flip();
        c.write(b);
    };

    /** Threads whose name starts with {@code prefix}, alive now. */
    static List<Thread> threadsNamed(String prefix) {
        List<Thread> out = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith(prefix) && t.isAlive()) {
                out.add(t);
            }
        }
        return out;
    }

    /** Waits up to {@code millis} until {@code prefix}-named threads number {@code n}; the count then. */
    static int awaitThreads(String prefix, int n, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        int c;
        while ((c = threadsNamed(prefix).size()) != n && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        return c;
    }

    /** Polls {@code done} every 5 ms for up to {@code millis}; whether it turned true. */
    static boolean await(java.util.function.BooleanSupplier done, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!done.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    /** For a failure message: each leaked socket's line in /proc/net/{tcp,tcp6,udp,udp6} (state, ports). */
    static String explain(java.util.Set<String> leaked) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String l : leaked) {
            String inode = l.replaceAll(".*socket:\\[(\\d+)\\].*", "$1");
            for (String f : new String[] {"tcp", "tcp6", "udp", "udp6", "unix", "netlink", "raw"}) {
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/" + f))) {
                    String[] c = line.trim().split("\\s+");
                    if (java.util.Arrays.asList(c).contains(inode)) {
                        b.append(l).append(" = ").append(f).append(' ').append(line.trim()).append('\n');
                    }
                }
            }
        }
        return b.toString();
    }

    /**
     * What serving can leak: this process's IP sockets (found in /proc/net/{tcp,tcp6,udp,udp6}) and
     * anonymous-inode descriptors (epoll sets, eventfds, BPF objects), as {@code "fd -> target"}. Unix
     * sockets are left out: the library never opens one for serving, and the JVM opens its own lazily.
     */
    static java.util.Set<String> census() throws IOException {
        java.util.Set<String> inodes = new java.util.HashSet<>();
        for (String f : new String[] {"tcp", "tcp6", "udp", "udp6"}) {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/" + f))) {
                String[] c = line.trim().split("\\s+");
                if (c.length > 9) {
                    inodes.add(c[9]);
                }
            }
        }
        return Descriptors.matching(t -> t.startsWith("anon_inode:")
                || (t.startsWith("socket:[") && inodes.contains(t.substring(8, t.length() - 1))));
    }
}
