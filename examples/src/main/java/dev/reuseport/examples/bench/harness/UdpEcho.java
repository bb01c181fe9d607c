package dev.reuseport.examples.bench.harness;

import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/** The UDP echo workers: record per-datagram handling time, count datagrams per flow and worker. */
public final class UdpEcho implements AutoCloseable {
    /** Flow x worker counts are kept for slots below this. */
    public static final int WORKERS = 8;
    private final ReuseportGroup group;
    private final Map<Integer, Integer> flowOfPort;
    private final AtomicLongArray flowSlot;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;
    private volatile boolean inject;

    public UdpEcho(ReuseportGroup group, Map<Integer, Integer> flowOfPort, int flows) {
        this.group = group;
        this.flowOfPort = Map.copyOf(flowOfPort);
        this.flowSlot = new AtomicLongArray(flows * WORKERS);
        for (Worker w : group.workers()) {
            Thread t = new Thread(() -> run(w), "control-udp-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    public void inject(boolean on) {
        inject = on;
    }

    public long[] flowSlot() {
        long[] a = new long[flowSlot.length()];
        for (int i = 0; i < a.length; i++) {
            a[i] = flowSlot.get(i);
        }
        return a;
    }

    private void run(Worker w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(2048);
        while (!stopping) {
            try {
                buf.clear();
                InetSocketAddress from = w.receive(buf, Duration.ofMillis(100));
                if (from == null) {
                    continue;
                }
                long t0 = System.nanoTime();
                buf.flip();
                w.send(buf, from);
                long took = System.nanoTime() - t0;
                if (inject && group.capabilities().steering().startsWith("bpf")) {
                    took *= 10;
                }
                w.recordLatency(took);
                Integer f = flowOfPort.get(from.getPort());
                if (f != null && w.slot() < WORKERS) {
                    flowSlot.incrementAndGet(f * WORKERS + w.slot());
                }
            } catch (GroupClosedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (stopping || group.isClosed()) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        for (Thread t : threads) {
            t.join(2000);
        }
    }

    /** A second of paced traffic on a throwaway group, so that the JIT compiles both paths before a baseline. */
    public static void warmUp(java.net.InetAddress lo, int workers, int flows, int rate) throws Exception {
        try (dev.reuseport.ReuseportGroup wg = dev.reuseport.ReuseportGroup.udp().address(lo).port(0).workers(workers)
                .open(); UdpEcho we = new UdpEcho(wg, java.util.Map.of(), flows)) {
            java.util.List<java.nio.channels.DatagramChannel> wc = Flows.open(lo, flows, false);
            try (UdpSenders ws = new UdpSenders(wc, wg.localAddress(), rate, 10_000_000_000L)) {
                ws.start();
                Thread.sleep(1000);
            } finally {
                Flows.closeAll(wc);
            }
        }
    }
}
