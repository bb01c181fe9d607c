package dev.reuseport.examples.bench.harness;

import dev.reuseport.examples.LoadGenerator;
import java.net.InetSocketAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Client threads opening a connection per request until stopped (bounded by a deadline). */
public final class TcpClients implements AutoCloseable {
    private final InetSocketAddress target;
    private final int threads;
    private final long deadline;
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final List<Thread> running = new ArrayList<>();
    private volatile boolean stopping;

    public TcpClients(InetSocketAddress target, int threads, long maxNanos) {
        this.target = target;
        this.threads = threads;
        this.deadline = System.nanoTime() + maxNanos;
    }

    public void start() {
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                ByteBuffer o = ByteBuffer.allocateDirect(64);
                ByteBuffer i = ByteBuffer.allocateDirect(65);
                while (!stopping && System.nanoTime() < deadline) {
                    if (LoadGenerator.tcpOnce(target, o, i, 64)) {
                        ok.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                }
            }, "control-client-" + t);
            th.setDaemon(true);
            running.add(th);
            th.start();
        }
    }

    public long completed() {
        return ok.get();
    }

    public long failed() {
        return failed.get();
    }

    public void stop() throws InterruptedException {
        stopping = true;
        for (Thread th : running) {
            th.join(2000);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    /**
     * {@code connections} connections to {@code target} from {@code threads} threads, each connected and
     * closed with no payload, within {@code maxMillis} at most; returns how many failed.
     */
    public static long connectAndClose(InetSocketAddress target, int connections, int threads, long maxMillis)
            throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        AtomicLong failed = new AtomicLong();
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                while (next.getAndIncrement() < connections && System.nanoTime() < deadline) {
                    try (SocketChannel ch = SocketChannel.open()) {
                        ch.connect(target);
                    } catch (IOException e) {
                        failed.incrementAndGet();
                    }
                }
            }, "connect-close-" + t);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        return failed.get();
    }
}
