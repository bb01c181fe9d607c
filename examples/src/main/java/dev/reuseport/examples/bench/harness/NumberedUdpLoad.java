package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/** UDP senders: own sockets (flows), numbered datagrams, paced to a total rate, bounded by a count. */
public final class NumberedUdpLoad {
    /** Sender threads. */
    public static final int SENDERS = 2;
    /** Sockets (flows) per sender. */
    public static final int FLOWS_PER_SENDER = 16;
    public final InetSocketAddress target;
    public final int rate;
    public final long maxSeq;
    public final long hardDeadline;
    public final InetAddress bindTo;
    public final List<Thread> threads = new ArrayList<>();
    public final List<DatagramChannel> channels = Collections.synchronizedList(new ArrayList<>());
    /** Next sequence number per sender: every number below it was sent successfully. */
    public final AtomicLongArray next = new AtomicLongArray(SENDERS);
    public final LongAdder sendFailed = new LongAdder();
    public final ConcurrentHashMap<String, LongAdder> sendErrors = new ConcurrentHashMap<>();
    public volatile boolean stopped;

    public NumberedUdpLoad(InetSocketAddress target, int rate, long maxSeq, long hardDeadline, InetAddress bindTo) {
        this.target = target;
        this.rate = rate;
        this.maxSeq = maxSeq;
        this.hardDeadline = hardDeadline;
        this.bindTo = bindTo;
    }

    public void start() throws IOException {
        double perThread = (double) rate / SENDERS;
        for (int t = 0; t < SENDERS; t++) {
            List<DatagramChannel> mine = new ArrayList<>();
            for (int f = 0; f < FLOWS_PER_SENDER; f++) {
                DatagramChannel ch = DatagramChannel.open();
                channels.add(ch);
                ch.bind(new InetSocketAddress(bindTo, 0));
                mine.add(ch);
            }
            int id = t;
            Thread th = new Thread(() -> send(id, mine, perThread), "soak-udp-sender-" + t);
            threads.add(th);
            th.start();
        }
    }

    private void send(int id, List<DatagramChannel> mine, double perSecond) {
        ByteBuffer b = ByteBuffer.allocateDirect(SoakWire.PAYLOAD);
        long begin = System.nanoTime();
        long seq = 0;
        long tries = 0;
        while (!stopped && seq < maxSeq && tries++ < 4 * maxSeq && System.nanoTime() < hardDeadline) {
            long due = begin + (long) (seq * 1e9 / perSecond);
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(Math.min(wait, 50_000_000L));
                continue;
            } else if (wait < -200_000_000L) {
                begin += -wait; // behind by more than 200 ms: keep the rate, do not burst
            }
            b.clear();
            b.putInt(SoakWire.MAGIC).putInt(id).putLong(seq).flip();
            DatagramChannel ch = mine.get((int) (seq % mine.size()));
            try {
                if (ch.send(b, target) == SoakWire.PAYLOAD) {
                    seq++;
                    next.set(id, seq);
                } else {
                    sendFailed.increment();
                    sendErrors.computeIfAbsent("send returned less than the datagram", k -> new LongAdder())
                            .increment();
                }
            } catch (IOException e) {
                sendFailed.increment();
                sendErrors.computeIfAbsent(e.toString(), k -> new LongAdder()).increment();
                LockSupport.parkNanos(1_000_000L);
            }
        }
    }

    public long[] seqs() {
        long[] s = new long[SENDERS];
        for (int i = 0; i < s.length; i++) {
            s[i] = next.get(i);
        }
        return s;
    }

    public long sent() {
        long n = 0;
        for (long s : seqs()) {
            n += s;
        }
        return n;
    }

    public void stop() {
        stopped = true;
        for (Thread th : threads) {
            try {
                th.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    public void closeChannels() {
        synchronized (channels) {
            for (DatagramChannel ch : channels) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // closing a datagram socket does not fail in a way worth reporting here
                }
            }
            channels.clear();
        }
    }
}
