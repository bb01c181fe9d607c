package dev.reuseport.examples.bench.harness;

import dev.reuseport.DatagramBatch;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One batched receiving thread per worker of a UDP group, reading the flow id (4 bytes, little-endian, as
 * {@link IngestC}'s {@code flows} and {@code spray} modes write it) of every datagram: counts per worker,
 * and, when given a flow table, which worker each flow reached in each pass.
 */
public final class FlowReceivers implements AutoCloseable {
    private static final int STRIDE = 16;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLongArray counts;
    private final int workers;
    private volatile boolean stop;
    /** 1 or 2: which pass the datagrams belong to. */
    private volatile int pass = 1;
    private final byte[] first;
    private final byte[] second;

    /**
     * Starts receiving.
     *
     * @param g     the group (its live workers now)
     * @param flows the number of flow ids to track per pass (0: count only)
     */
    public FlowReceivers(ReuseportGroup g, int flows) {
        List<Worker> ws = g.workers();
        this.workers = ws.size();
        this.counts = new AtomicLongArray(workers * STRIDE);
        this.first = new byte[flows];
        this.second = new byte[flows];
        for (int k = 0; k < workers; k++) {
            Worker w = ws.get(k);
            int at = k * STRIDE;
            byte mark = (byte) (k % 255 + 1);
            Thread t = new Thread(() -> {
                DatagramBatch b = DatagramBatch.allocate(64, 64);
                Duration wait = Duration.ofMillis(20);
                long n = 0;
                try {
                    while (!stop) {
                        int m = w.receive(b, wait);
                        byte[] table = pass == 1 ? first : second;
                        for (int i = 0; i < m && table.length > 0; i++) {
                            ByteBuffer p = b.payload(i);
                            int id = (p.get(0) & 0xff) | (p.get(1) & 0xff) << 8 | (p.get(2) & 0xff) << 16
                                    | (p.get(3) & 0xff) << 24;
                            if (id >= 0 && id < table.length && table[id] == 0) {
                                table[id] = mark; // a flow's datagrams all reach one worker in a pass
                            }
                        }
                        n += m;
                        counts.lazySet(at, n);
                    }
                } catch (Exception e) {
                    if (!stop) {
                        e.printStackTrace();
                    }
                }
            }, "flow-rx-" + k);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /**
     * Datagrams received so far, all workers.
     *
     * @return the count
     */
    public long total() {
        long s = 0;
        for (int i = 0; i < workers; i++) {
            s += counts.get(i * STRIDE);
        }
        return s;
    }

    /**
     * Datagrams received so far, per worker (in the group's worker order at start).
     *
     * @return the counts
     */
    public long[] perWorker() {
        long[] v = new long[workers];
        for (int i = 0; i < workers; i++) {
            v[i] = counts.get(i * STRIDE);
        }
        return v;
    }

    /** From now on datagrams are recorded in the second pass's table. */
    public void secondPass() {
        pass = 2;
    }

    /**
     * Compares the passes: {seen in pass 1, seen in pass 2, seen in both and on another worker in pass 2}.
     *
     * @return the three counts
     */
    public long[] moved() {
        long a = 0;
        long b = 0;
        long moved = 0;
        for (int i = 0; i < first.length; i++) {
            a += first[i] != 0 ? 1 : 0;
            b += second[i] != 0 ? 1 : 0;
            if (first[i] != 0 && second[i] != 0 && first[i] != second[i]) {
                moved++;
            }
        }
        return new long[] {a, b, moved};
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        for (Thread t : threads) {
            t.join(2000);
        }
    }
}
