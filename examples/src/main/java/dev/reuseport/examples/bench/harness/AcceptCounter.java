package dev.reuseport.examples.bench.harness;

import dev.reuseport.Connection;
import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.examples.EchoServer;
import dev.reuseport.examples.LoadGenerator;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicLongArray;

/** One thread per worker: accept, count (and echo until EOF when asked), close. */
public final class AcceptCounter implements AutoCloseable {
    private final AtomicLongArray perSlot = new AtomicLongArray(ReuseportGroup.MAX_WORKERS);
    private final List<Thread> threads = new ArrayList<>();
    private final int workers;
    private volatile boolean stop;

    /** Starts a thread per worker of {@code g}; {@code echo} echoes each connection until EOF. */
    public AcceptCounter(ReuseportGroup g, boolean echo) {
        this.workers = g.workers().size();
        for (Worker w : g.workers()) {
            Thread t = new Thread(() -> run(w, echo), "balance-accept-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    private void run(Worker w, boolean echo) {
        ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        int slot = w.slot();
        while (!stop) {
            Connection c;
            try {
                c = w.accept(Duration.ofMillis(50));
            } catch (GroupClosedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (stop) {
                    return;
                }
                continue;
            }
            if (c == null) {
                continue;
            }
            perSlot.incrementAndGet(slot);
            try (c) {
                if (echo) {
                    EchoServer.echo(c, buf);
                }
            } catch (IOException e) {
                // a client that reset: it was accepted all the same
            }
        }
    }

    /** Connections accepted so far. */
    public long total() {
        long s = 0;
        for (int i = 0; i < perSlot.length(); i++) {
            s += perSlot.get(i);
        }
        return s;
    }

    /** Connections accepted so far per slot, slots 0 to the size at start - 1. */
    public long[] counts() {
        long[] c = new long[workers];
        for (int i = 0; i < workers; i++) {
            c[i] = perSlot.get(i);
        }
        return c;
    }

    @Override
    public void close() {
        stop = true;
        Timing.joinAll(threads, 2_000);
    }

    /**
     * One throughput round against this counter's group at {@code target}: {@code warmup} seconds of
     * {@link LoadGenerator#tcp} load with {@code clients} threads (64-byte echo per connection), then
     * {@code seconds} measured; the columns are failed connections, accepted, and max/mean of the accepts
     * per worker. Failed connections are reported to {@code failedNote}.
     */
    public Alternating.RoundOut round(InetSocketAddress target, int clients, double warmup, double seconds,
                                      Consumer<Long> failedNote) throws InterruptedException {
        LoadGenerator.tcp(target, Integer.MAX_VALUE, clients, 64, warmup);
        long[] a0 = counts();
        CpuSample cpu0 = CpuSample.now();
        LoadGenerator.Result res = LoadGenerator.tcp(target, Integer.MAX_VALUE, clients, 64, seconds);
        CpuSample cpu1 = CpuSample.now();
        long[] a1 = counts();
        long[] d = new long[workers];
        for (int i = 0; i < workers; i++) {
            d[i] = a1[i] - a0[i];
        }
        if (res.failed() > 0) {
            failedNote.accept(res.failed());
        }
        return new Alternating.RoundOut(res.rate(), cpu0.oursPct(cpu1), cpu0.othersPct(cpu1),
                String.format(Locale.ROOT, "%8d %10d %9.3f", res.failed(), Stats.sum(d), Stats.maxOverMean(d)));
    }
}
