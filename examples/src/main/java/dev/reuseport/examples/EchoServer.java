package dev.reuseport.examples;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An echo server on a {@link ReuseportGroup}: one thread per worker. TCP connections echo every byte
 * until the client closes (or, with {@code http}, answer each request with a minimal HTTP/1.1 200);
 * UDP datagrams are sent back to their sender from the worker that received them.
 */
public final class EchoServer implements AutoCloseable {
    static final byte[] HTTP_OK_KEEP = ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
            + "\r\nok\n").getBytes(StandardCharsets.US_ASCII);
    static final byte[] HTTP_OK_CLOSE = ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
            + "Connection: close\r\n\r\nok\n").getBytes(StandardCharsets.US_ASCII);

    private final ReuseportGroup group;
    private final boolean http;
    private final List<Thread> threads = new ArrayList<>();
    private final ExecutorService connections;
    private final AtomicLong failures = new AtomicLong();
    private volatile boolean stopping;

    /**
     * Starts serving {@code group}.
     *
     * @param http         answer HTTP requests instead of echoing bytes (TCP only)
     * @param perConnection hand each TCP connection to its own thread (needed for long-lived clients such
     *                     as wrk's keep-alive connections); otherwise the worker's thread serves it inline
     */
    public EchoServer(ReuseportGroup group, boolean http, boolean perConnection) {
        this.group = group;
        this.http = http;
        this.connections = perConnection ? Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "echo-conn");
            t.setDaemon(true);
            return t;
        }) : null;
        for (Worker w : group.workers()) {
            serveAdded(List.of(w));
        }
    }

    /** Starts a thread for each of {@code added} (workers a resize added). */
    public synchronized void serveAdded(List<Worker> added) {
        for (Worker w : added) {
            Thread t = new Thread(() -> run(w), "echo-" + group.protocol().name().toLowerCase() + "-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** Waits up to {@code deadline} for connections in flight to finish (after the group was handed off). */
    public void drain(java.time.Duration deadline) throws InterruptedException {
        if (connections != null) {
            connections.shutdown();
            connections.awaitTermination(deadline.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** Errors seen while serving (a client that reset, a failed write). */
    public long failures() {
        return failures.get();
    }

    private void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
        while (!stopping && !group.isClosed()) {
            try {
                if (w.protocol() == Protocol.TCP) {
                    Connection c = w.accept(Duration.ofMillis(200));
                    if (c == null) {
                        continue;
                    }
                    long t0 = System.nanoTime();
                    if (connections != null) {
                        connections.execute(() -> {
                            serve(c, ByteBuffer.allocateDirect(16 * 1024));
                            w.recordLatency(System.nanoTime() - t0);
                        });
                    } else {
                        serve(c, buf);
                        w.recordLatency(System.nanoTime() - t0);
                    }
                } else {
                    buf.clear();
                    InetSocketAddress from = w.receive(buf, Duration.ofMillis(200));
                    if (from != null) {
                        long t0 = System.nanoTime();
                        buf.flip();
                        w.send(buf, from);
                        w.recordLatency(System.nanoTime() - t0);
                    }
                }
            } catch (GroupClosedException e) {
                return; // closed, handed off, or this worker was removed
            } catch (IOException | RuntimeException e) {
                if (stopping || group.isClosed()) {
                    return;
                }
                failures.incrementAndGet();
            }
        }
    }

    private void serve(Connection c, ByteBuffer buf) {
        try (c) {
            if (http) {
                serveHttp(c, buf);
                return;
            }
            echo(c, buf);
        } catch (IOException e) {
            if (!stopping) {
                failures.incrementAndGet();
            }
        }
    }

    /** Echoes every byte back until the client half-closes (end of stream). */
    /** Echoes what {@code c} sends until it half-closes. */
    public static void echo(Connection c, ByteBuffer buf) throws IOException {
        for (;;) {
            buf.clear();
            if (c.read(buf) < 0) {
                return;
            }
            buf.flip();
            c.writeFully(buf);
        }
    }

    private static void serveHttp(Connection c, ByteBuffer buf) throws IOException {
        buf.clear();
        int scanned = 0;
        for (;;) {
            int n = c.read(buf);
            if (n < 0) {
                return;
            }
            int end = headerEnd(buf, scanned);
            while (end >= 0) {
                boolean close = mentionsClose(buf, end);
                c.writeFully(ByteBuffer.wrap(close ? HTTP_OK_CLOSE : HTTP_OK_KEEP));
                if (close) {
                    return;
                }
                // keep what follows the request (pipelining) and look again
                int pos = buf.position();
                ByteBuffer rest = buf.duplicate();
                rest.position(end).limit(pos);
                buf.clear();
                buf.put(rest);
                scanned = 0;
                end = headerEnd(buf, 0);
            }
            scanned = Math.max(0, buf.position() - 3);
            if (!buf.hasRemaining()) {
                throw new IOException("HTTP request header larger than " + buf.capacity() + " bytes");
            }
        }
    }

    /** Index just past the first CRLFCRLF in buf[0, position), or -1. */
    static int headerEnd(ByteBuffer buf, int from) {
        int lim = buf.position();
        for (int i = from; i + 3 < lim; i++) {
            if (buf.get(i) == '\r' && buf.get(i + 1) == '\n' && buf.get(i + 2) == '\r' && buf.get(i + 3) == '\n') {
                return i + 4;
            }
        }
        return -1;
    }

    static boolean mentionsClose(ByteBuffer buf, int end) {
        byte[] head = new byte[end];
        buf.duplicate().position(0).get(head);
        String s = new String(head, StandardCharsets.US_ASCII).toLowerCase();
        return s.contains("\nconnection: close") || s.startsWith("get / http/1.0") && !s.contains("keep-alive");
    }

    /** Stops the worker threads (the group stays open; the caller closes it). */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        for (Thread t : new ArrayList<>(threads)) {
            t.join(2000);
        }
        if (connections != null) {
            connections.shutdownNow();
        }
    }
}
