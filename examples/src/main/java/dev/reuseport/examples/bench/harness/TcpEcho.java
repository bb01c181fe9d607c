package dev.reuseport.examples.bench.harness;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.examples.EchoServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** TCP echo workers: a connection per request, served inline; latency recorded only when asked. */
public final class TcpEcho implements AutoCloseable {
    private final ReuseportGroup group;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong recorded = new AtomicLong();
    private volatile boolean stopping;
    private volatile boolean record;

    public TcpEcho(ReuseportGroup group) {
        this.group = group;
        for (Worker w : group.workers()) {
            Thread t = new Thread(() -> run(w), "control-tcp-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    public void record(boolean on) {
        record = on;
    }

    public long recorded() {
        return recorded.get();
    }

    private void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(16 * 1024);
        long n = 0;
        while (!stopping) {
            try {
                Connection c = w.accept(Duration.ofMillis(100));
                if (c == null) {
                    continue;
                }
                boolean on = record;
                long t0 = on ? System.nanoTime() : 0;
                try (c) {
                    EchoServer.echo(c, buf);
                } catch (IOException e) {
                    // a client that reset: next connection
                }
                if (on) {
                    w.recordLatency(System.nanoTime() - t0);
                    n++;
                    if ((n & 1023) == 0) {
                        recorded.addAndGet(1024);
                    }
                }
            } catch (GroupClosedException e) {
                break;
            } catch (IOException | RuntimeException e) {
                if (stopping || group.isClosed()) {
                    break;
                }
            }
        }
        recorded.addAndGet(n & 1023);
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        for (Thread t : threads) {
            t.join(2000);
        }
    }
}
