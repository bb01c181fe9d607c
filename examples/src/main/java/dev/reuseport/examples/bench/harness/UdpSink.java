package dev.reuseport.examples.bench.harness;

import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * One thread per worker draining it with {@link Worker#receive}: counts per worker, per payload kind,
 * records flow → slot per phase, and credits throughput senders.
 */
public final class UdpSink implements AutoCloseable {
    /** Payload kinds (first int of every datagram): the flows' first phase. */
    public static final int KIND_PHASE0 = 0;
    /** The flows' second phase. */
    public static final int KIND_PHASE1 = 1;
    /** A throughput sender's datagram: credits sender {@code id} (the second int). */
    public static final int KIND_CREDIT = 2;
    /** Padding between credit counters (longs), so senders' counters do not share a cache line. */
    private static final int PAD = 16;
    private final AtomicLongArray perSlot = new AtomicLongArray(ReuseportGroup.MAX_WORKERS);
    public final AtomicLongArray phaseCount = new AtomicLongArray(3);
    public final AtomicIntegerArray[] flowSlot;
    private final AtomicLongArray credits;
    private final Thread[] bySlot = new Thread[ReuseportGroup.MAX_WORKERS];
    private final List<Thread> threads = new ArrayList<>();
    private final int workers;
    private volatile boolean stop;

    public UdpSink(ReuseportGroup g, int flows, int phases) {
        this(g, flows, phases, 0);
    }

    public UdpSink(ReuseportGroup g, int flows, int phases, int senders) {
        this.workers = g.workers().size();
        flowSlot = new AtomicIntegerArray[phases];
        for (int p = 0; p < phases; p++) {
            flowSlot[p] = new AtomicIntegerArray(flows);
        }
        credits = new AtomicLongArray(Math.max(1, senders) * PAD);
        for (Worker w : g.workers()) {
            Thread t = new Thread(() -> run(w), "balance-udp-" + w.slot());
            t.setDaemon(true);
            bySlot[w.slot()] = t;
            threads.add(t);
            t.start();
        }
    }

    public Thread thread(int slot) {
        return bySlot[slot];
    }

    private void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(256);
        int slot = w.slot();
        Duration wait = Duration.ofMillis(50);
        while (!stop) {
            try {
                buf.clear();
                if (w.receive(buf, wait) == null) {
                    continue;
                }
            } catch (GroupClosedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (stop) {
                    return;
                }
                continue;
            }
            perSlot.incrementAndGet(slot);
            if (buf.position() < 8) {
                continue;
            }
            int kind = buf.getInt(0);
            int id = buf.getInt(4);
            if (kind == KIND_CREDIT) {
                if (id >= 0 && id * PAD < credits.length()) {
                    credits.incrementAndGet(id * PAD);
                }
            } else if (kind == KIND_PHASE0 || kind == KIND_PHASE1) {
                if (kind < flowSlot.length && id >= 0 && id < flowSlot[kind].length()) {
                    flowSlot[kind].set(id, slot + 1);
                }
                phaseCount.incrementAndGet(kind);
            }
        }
    }

    public long credit(int id) {
        return credits.get(id * PAD);
    }

    public long creditSum(long from, int n) {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += credits.get((int) (from + i) * PAD);
        }
        return s;
    }

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

    /** One datagram per flow, at most 256 not yet received at any time (no receive buffer overflows). */
    public void sendOnePerFlow(List<DatagramChannel> pool, InetSocketAddress target, int kind)
            throws IOException {
        ByteBuffer msg = ByteBuffer.allocateDirect(16);
        long deadline = System.nanoTime() + 20_000_000_000L;
        long base = phaseCount.get(kind);
        for (int i = 0; i < pool.size(); i++) {
            while (i - (phaseCount.get(kind) - base) >= 256 && System.nanoTime() < deadline) {
                LockSupport.parkNanos(20_000);
            }
            msg.clear();
            msg.putInt(0, kind).putInt(4, i).putInt(8, 0).putInt(12, 0);
            pool.get(i).send(msg, target);
        }
    }

    /**
     * A throughput sender: bursts of {@code burst} datagrams, flow after flow, while at most {@code window}
     * of its datagrams are not yet received ({@link #credit}); until {@code end}; adds what it sent to
     * {@code sentTotal}; a send failure ends it with a note.
     */
    public void sendCredited(int id, List<DatagramChannel> chans, long end, AtomicLong sentTotal, int burst,
                             int window, List<String> notes) {
        ByteBuffer msg = ByteBuffer.allocateDirect(32);
        msg.putInt(0, UdpSink.KIND_CREDIT).putInt(4, id);
        long sent = 0;
        int ci = 0;
        try {
            while (System.nanoTime() < end) {
                if (sent - credit(id) + burst > window) {
                    LockSupport.parkNanos(20_000);
                    continue;
                }
                DatagramChannel c = chans.get(ci);
                ci = ci + 1 == chans.size() ? 0 : ci + 1;
                for (int b = 0; b < burst; b++) {
                    msg.clear();
                    c.write(msg);
                    sent++;
                }
            }
        } catch (IOException e) {
            notes.add("udp sender " + id + " failed: " + e);
        } finally {
            sentTotal.addAndGet(sent);
        }
    }
}
