package dev.reuseport.examples.bench.harness;

import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    /**
     * {@code datagrams} datagrams from each of {@code senders} (flow = sender index) to {@code target}, in
     * turns, with at most 64 not yet received (bounded by 20 s); returns how many were sent.
     */
    public long sendHeavy(List<DatagramChannel> senders, InetSocketAddress target, int datagrams) throws IOException {
        ByteBuffer msg = ByteBuffer.allocateDirect(16);
        long sent = 0;
        long deadline = System.nanoTime() + 20_000_000_000L;
        for (int d = 0; d < datagrams; d++) {
            for (int f = 0; f < senders.size(); f++) {
                while (sent - phaseCount.get(KIND_PHASE0) >= 64 && System.nanoTime() < deadline) {
                    LockSupport.parkNanos(20_000);
                }
                msg.clear();
                msg.putInt(0, KIND_PHASE0).putInt(4, f).putInt(8, d).putInt(12, 0);
                senders.get(f).send(msg, target);
                sent++;
            }
        }
        return sent;
    }

    /** Which worker each sender's flow reached in the first phase: {@code ; flow(port)->worker 40001->w3 ...}. */
    public String flowWorkers(List<DatagramChannel> senders) throws IOException {
        StringBuilder where = new StringBuilder("; flow(port)->worker");
        for (int f = 0; f < senders.size(); f++) {
            where.append(' ').append(((InetSocketAddress) senders.get(f).getLocalAddress()).getPort())
                    .append("->w").append(flowSlot[0].get(f) - 1);
        }
        return where.toString();
    }

    /**
     * What a credited throughput round sends: {@code senders} threads of {@code flowsPerSender} flows each
     * (own sockets on {@code address}), bursts of {@code burst} per flow, at most {@code window} in flight per
     * sender; {@code warmup} then {@code seconds} measured.
     */
    public record CreditedLoad(InetAddress address, int senders, int flowsPerSender, int burst, int window,
                               double warmup, double seconds) {
    }

    /**
     * One throughput round of {@code load} against {@code g} (which this sink drains), as attempt
     * {@code attempt} (sender ids {@code attempt * senders ...}, so every round's credits are its own): the
     * rate is the datagrams the workers received per second over the measured part; the columns are sent,
     * dropped by full receive buffers, and max/mean per worker. Drops and failed senders go to
     * {@code notes}, named by {@code label}.
     */
    public Alternating.RoundOut creditedRound(ReuseportGroup g, CreditedLoad load, int attempt, String label,
                                              List<String> notes) throws Exception {
        long drops0 = Steering.drops(g);
        List<DatagramChannel> chans = Flows.open(load.address(), load.senders() * load.flowsPerSender(), true);
        AtomicLong sentTotal = new AtomicLong();
        long[] c0;
        long[] c1;
        CpuSample cpu0;
        CpuSample cpu1;
        try {
            for (DatagramChannel c : chans) {
                c.connect(g.localAddress());
            }
            long start = System.nanoTime();
            long end = start + (long) ((load.warmup() + load.seconds()) * 1e9) + 50_000_000L;
            List<Thread> ts = new ArrayList<>();
            for (int k = 0; k < load.senders(); k++) {
                int id = attempt * load.senders() + k;
                List<DatagramChannel> mine = chans.subList(k * load.flowsPerSender(), (k + 1) * load.flowsPerSender());
                Thread th = new Thread(() -> sendCredited(id, mine, end, sentTotal, load.burst(), load.window(), notes),
                        "udp-sender-" + k);
                ts.add(th);
                th.start();
            }
            Timing.sleepUntil(start + (long) (load.warmup() * 1e9));
            c0 = counts();
            cpu0 = CpuSample.now();
            Timing.sleepUntil(cpu0.wallNanos() + (long) (load.seconds() * 1e9));
            c1 = counts();
            cpu1 = CpuSample.now();
            for (Thread th : ts) {
                th.join();
            }
            long sent = sentTotal.get();
            long id0 = (long) attempt * load.senders();
            // let the last bursts drain before the next round (bounded)
            Timing.waitFor(() -> creditSum(id0, load.senders()) >= sent, 1_000);
        } finally {
            for (DatagramChannel c : chans) {
                c.close();
            }
        }
        long d = Steering.drops(g) - drops0;
        long[] delta = new long[workers];
        for (int i = 0; i < workers; i++) {
            delta[i] = c1[i] - c0[i];
        }
        double rate = Stats.sum(delta) / ((cpu1.wallNanos() - cpu0.wallNanos()) / 1e9);
        if (d > 0) {
            notes.add("udp attempt " + (attempt + 1) + " " + label + ": " + d + " datagrams dropped by full receive buffers");
        }
        return new Alternating.RoundOut(rate, cpu0.oursPct(cpu1), cpu0.othersPct(cpu1),
                String.format(Locale.ROOT, "%10d %8d %9.3f", sentTotal.get(), d, Stats.maxOverMean(delta)));
    }
}
