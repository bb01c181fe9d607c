package dev.reuseport;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Servers and clients for kernel tests: every worker echoes its slot id back (a byte), so a client knows
 * which worker served it.
 */
final class TestTraffic implements AutoCloseable {
    static final InetAddress LO = InetAddress.getLoopbackAddress();

    private final ReuseportGroup group;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    final AtomicLongArray served = new AtomicLongArray(ReuseportGroup.MAX_WORKERS);

    TestTraffic(ReuseportGroup group) {
        this.group = group;
        for (Worker w : group.workers()) {
            serve(w);
        }
    }

    /** Starts serving a worker added later. */
    void serve(Worker w) {
        Thread t = new Thread(() -> loop(w), "serve-" + w.slot());
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    private void loop(Worker w) {
        ByteBuffer b = ByteBuffer.allocateDirect(2048);
        while (!stop.get()) {
            try {
                if (w.protocol() == Protocol.TCP) {
                    try (Connection c = w.accept(Duration.ofMillis(50))) {
                        if (c != null) {
                            served.incrementAndGet(w.slot());
                            b.clear().put((byte) w.slot()).flip();
                            c.writeFully(b);
                        }
                    }
                } else {
                    b.clear();
                    InetSocketAddress from = w.receive(b, Duration.ofMillis(50));
                    if (from != null) {
                        served.incrementAndGet(w.slot());
                        b.clear().put((byte) w.slot()).flip();
                        w.send(b, from);
                    }
                }
            } catch (GroupClosedException e) {
                return;
            } catch (IOException e) {
                if (stop.get()) {
                    return;
                }
            }
        }
    }

    /** One TCP connection; returns the slot that accepted it. */
    int connect() throws IOException {
        try (Socket s = new Socket(LO, group.localAddress().getPort())) {
            s.setSoTimeout(5000);
            int slot = s.getInputStream().read();
            if (slot < 0) {
                throw new IOException("connection closed before the worker answered");
            }
            return slot;
        }
    }

    /** Per-slot counts of {@code n} connections. */
    long[] connect(int n) throws IOException {
        long[] c = new long[ReuseportGroup.MAX_WORKERS];
        for (int i = 0; i < n; i++) {
            c[connect()]++;
        }
        return c;
    }

    /** {@code n} UDP flows, each its own socket (held open by the caller), bound on loopback. */
    static List<DatagramChannel> flows(int n) throws IOException {
        List<DatagramChannel> out = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                DatagramChannel ch = DatagramChannel.open();
                out.add(ch);
                ch.bind(new InetSocketAddress(LO, 0));
                ch.socket().setSoTimeout(5000);
            }
            return out;
        } catch (IOException e) {
            closeAll(out);
            throw e;
        }
    }

    static void closeAll(List<DatagramChannel> chans) {
        for (DatagramChannel ch : chans) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // test cleanup
            }
        }
    }

    /** Sends one datagram from {@code ch} and returns the slot that echoed it. */
    int ping(DatagramChannel ch) throws IOException {
        ch.send(ByteBuffer.wrap(new byte[] {42}), group.localAddress());
        DatagramPacket p = new DatagramPacket(new byte[4], 4);
        ch.socket().receive(p);
        return p.getData()[0] & 0xff;
    }

    static double maxOverMean(long[] counts, int[] slots) {
        long max = 0;
        long sum = 0;
        for (int s : slots) {
            max = Math.max(max, counts[s]);
            sum += counts[s];
        }
        return max / ((double) sum / slots.length);
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(2000);
        }
    }
}
