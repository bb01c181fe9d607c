package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/** One paced sender thread per flow socket; each also reads its echoes. Bounded by a deadline. */
public final class UdpSenders implements AutoCloseable {
    private final List<DatagramChannel> chans;
    private final InetSocketAddress target;
    private final double rate;
    private final long deadline;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong replies = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;

    public UdpSenders(List<DatagramChannel> chans, InetSocketAddress target, double rate, long maxNanos) {
        this.chans = chans;
        this.target = target;
        this.rate = rate;
        this.deadline = System.nanoTime() + maxNanos;
    }

    public void start() {
        for (int f = 0; f < chans.size(); f++) {
            int flow = f;
            Thread t = new Thread(() -> run(flow), "control-sender-" + f);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    private void run(int flow) {
        DatagramChannel ch = chans.get(flow);
        ByteBuffer msg = ByteBuffer.allocateDirect(64);
        ByteBuffer in = ByteBuffer.allocateDirect(2048);
        long start = System.nanoTime();
        long n = 0;
        long max = (long) (rate * (deadline - start) / 1e9) + 1;
        try {
            while (!stopping && n < max) {
                long now = System.nanoTime();
                if (now >= deadline) {
                    return;
                }
                long owed = Math.min(max, (long) ((now - start) * rate / 1e9));
                while (n < owed) {
                    msg.clear();
                    msg.putInt(0, flow).putLong(4, n).putLong(12, now);
                    msg.position(0).limit(64);
                    if (ch.send(msg, target) == 0) {
                        break; // send buffer full: owed again next time
                    }
                    n++;
                    sent.incrementAndGet();
                }
                while (ch.receive(in.clear()) != null) {
                    replies.incrementAndGet();
                }
                LockSupport.parkNanos(1_000_000);
            }
        } catch (IOException e) {
            // a closed client socket ends this flow
        } finally {
            try {
                // echoes still in flight
                long until = System.nanoTime() + 100_000_000L;
                while (System.nanoTime() < until) {
                    while (ch.isOpen() && ch.receive(in.clear()) != null) {
                        replies.incrementAndGet();
                    }
                    LockSupport.parkNanos(5_000_000);
                }
            } catch (IOException e) {
                // closed
            }
        }
    }

    public void stop() throws InterruptedException {
        stopping = true;
        for (Thread t : threads) {
            t.join(2000);
        }
    }

    public long sent() {
        return sent.get();
    }

    public long replies() {
        return replies.get();
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
