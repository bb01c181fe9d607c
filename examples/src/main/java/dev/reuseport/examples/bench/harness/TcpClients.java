package dev.reuseport.examples.bench.harness;

import dev.reuseport.examples.LoadGenerator;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
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
}
