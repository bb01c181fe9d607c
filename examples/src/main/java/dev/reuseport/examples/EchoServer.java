package dev.reuseport.examples;

import dev.reuseport.Connection;
import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.ServedConnection;
import dev.reuseport.Serving;
import dev.reuseport.Worker;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An echo server on a {@link ReuseportGroup}, served by the library's own event loops
 * ({@link ReuseportGroup#serve}, {@link ReuseportGroup#serveDatagrams}): TCP connections echo every byte
 * until the client closes (or, with {@code http}, answer each request with a minimal HTTP/1.1 200) on
 * virtual threads where the JDK has them; UDP datagrams are sent back to their sender from the worker that
 * received them, on the worker's loop. Workers that a resize or the operator socket adds are served at
 * once, removed ones stop after their queue went to the others: the loops follow membership themselves.
 */
public final class EchoServer implements AutoCloseable {
    static final byte[] HTTP_OK_KEEP = ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
            + "\r\nok\n").getBytes(StandardCharsets.US_ASCII);
    static final byte[] HTTP_OK_CLOSE = ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
            + "Connection: close\r\n\r\nok\n").getBytes(StandardCharsets.US_ASCII);

    private final boolean http;
    private final ExecutorService connections;
    private final Serving serving;
    private final AtomicLong failures = new AtomicLong();
    private volatile boolean stopping;

    /**
     * Starts serving {@code group}.
     *
     * @param http          answer HTTP requests instead of echoing bytes (TCP only)
     * @param perConnection kept for callers of the earlier thread-per-worker server; every connection now
     *                      has its own (virtual, where available) thread either way
     * @throws IOException when serving cannot start (see {@link ReuseportGroup#serve})
     */
    public EchoServer(ReuseportGroup group, boolean http, boolean perConnection) throws IOException {
        this.http = http;
        if (group.protocol() == Protocol.TCP) {
            this.connections = handlerThreads();
            this.serving = group.serve(this::serve, connections, Duration.ofSeconds(10));
        } else {
            this.connections = null;
            this.serving = group.serveDatagrams(d -> d.reply(d.payload()));
        }
    }

    /**
     * How the serving loop receives (for the capability report): for UDP, batched recvmmsg, with GRO
     * buffers split when the group enables UDP GRO.
     *
     * @return one line, see {@link Serving#receivePath()}
     */
    public String receivePath() {
        return serving.receivePath();
    }

    /** Virtual threads on JDK 21+ (looked up, as this compiles for 17), else a cached pool of daemon threads. */
    static ExecutorService handlerThreads() {
        try {
            return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (ReflectiveOperationException e) {
            return Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "echo-conn");
                t.setDaemon(true);
                return t;
            });
        }
    }

    /**
     * Nothing to do any more: the serving loop serves added workers by itself. Kept for callers that
     * registered it with {@code ControlSocket.onWorkersAdded}.
     *
     * @param added workers a resize added
     */
    public void serveAdded(List<Worker> added) {
        // the loops follow membership
    }

    /**
     * Waits up to {@code deadline} for connections in flight to finish (after the group was handed off).
     *
     * @param deadline how long to wait at most
     * @throws InterruptedException when interrupted
     */
    public void drain(java.time.Duration deadline) throws InterruptedException {
        serving.awaitTermination(deadline);
    }

    /**
     * Errors seen while serving (a client that reset, a failed write, a handler failure).
     *
     * @return the count
     */
    public long failures() {
        return failures.get() + serving.failures();
    }

    /**
     * The serving handle.
     *
     * @return what {@code serve} returned
     */
    public Serving serving() {
        return serving;
    }

    private void serve(ServedConnection c) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(http ? 2048 : 16 * 1024);
        try {
            if (http) {
                serveHttp(c, buf);
                return;
            }
            for (;;) {
                buf.clear();
                if (c.read(buf) < 0) {
                    return;
                }
                buf.flip();
                c.write(buf);
            }
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

    static void serveHttp(ServedConnection c, ByteBuffer buf) throws IOException {
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
                c.write(ByteBuffer.wrap(close ? HTTP_OK_CLOSE : HTTP_OK_KEEP));
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

    /**
     * Stops serving (the group stays open; the caller closes it).
     *
     * @throws IOException never in practice
     */
    @Override
    public void close() throws IOException {
        stopping = true;
        serving.close();
        if (connections != null) {
            connections.shutdownNow();
        }
    }
}
