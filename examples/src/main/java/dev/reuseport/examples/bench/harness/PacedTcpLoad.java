package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/** TCP clients: a connection per request, paced to a total rate. */
public final class PacedTcpLoad {
    /** Client threads. */
    public static final int CLIENTS = 4;
    public record Failure(long started, long seen, String reason) {
    }

    public final InetSocketAddress target;
    public final int rate;
    public final long hardDeadline;
    public final List<Thread> threads = new ArrayList<>();
    public volatile boolean stopped;
    public final LongAdder attempted = new LongAdder();
    public final LongAdder completed = new LongAdder();
    public final LongAdder failed = new LongAdder();
    public final ConcurrentHashMap<String, LongAdder> reasons = new ConcurrentHashMap<>();
    public final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
    public final AtomicInteger kept = new AtomicInteger();

    public PacedTcpLoad(InetSocketAddress target, int rate, long hardDeadline) {
        this.target = target;
        this.rate = rate;
        this.hardDeadline = hardDeadline;
    }

    public void start() {
        double perThread = (double) rate / CLIENTS;
        for (int t = 0; t < CLIENTS; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                byte[] req = new byte[SoakWire.PAYLOAD];
                byte[] resp = new byte[SoakWire.PAYLOAD + 1];
                long begin = System.nanoTime();
                for (long i = 0; i < 100_000_000L && !stopped && System.nanoTime() < hardDeadline; i++) {
                    long due = begin + (long) (i * 1e9 / perThread);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    } else if (wait < -200_000_000L) {
                        begin += -wait; // behind by more than 200 ms: do not catch up in a burst
                    }
                    if (stopped) {
                        break;
                    }
                    ByteBuffer.wrap(req).putInt(SoakWire.MAGIC).putInt(id).putLong(i);
                    long t0 = System.nanoTime();
                    attempted.increment();
                    String why = once(req, resp);
                    if (why == null) {
                        completed.increment();
                    } else {
                        failed.increment();
                        reasons.computeIfAbsent(why, k -> new LongAdder()).increment();
                        if (kept.incrementAndGet() <= 10_000) {
                            failures.add(new Failure(t0, System.nanoTime(), why));
                        }
                    }
                }
            }, "soak-tcp-client-" + t);
            threads.add(th);
            th.start();
        }
    }

    private String once(byte[] req, byte[] resp) {
        String stage = "connect";
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(SoakWire.TIMEOUT_MILLIS);
            s.connect(target, SoakWire.TIMEOUT_MILLIS);
            stage = "write";
            OutputStream o = s.getOutputStream();
            o.write(req);
            stage = "shutdownOutput";
            s.shutdownOutput();
            stage = "read";
            InputStream in = s.getInputStream();
            int got = 0;
            for (int i = 0; i < 64; i++) {
                int r = in.read(resp, got, resp.length - got);
                if (r < 0) {
                    break;
                }
                got += r;
                if (got == resp.length) {
                    return "read: more bytes than were sent";
                }
            }
            if (got != SoakWire.PAYLOAD) {
                return "read: " + got + " of " + SoakWire.PAYLOAD + " bytes before the end of stream";
            }
            if (!Arrays.equals(req, 0, SoakWire.PAYLOAD, resp, 0, SoakWire.PAYLOAD)) {
                return "read: the echo differs from the request";
            }
            return null;
        } catch (SocketTimeoutException e) {
            return stage + ": timed out after " + SoakWire.TIMEOUT_MILLIS + " ms";
        } catch (IOException e) {
            return stage + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    public void stop() {
        stopped = true;
        for (Thread th : threads) {
            try {
                th.join(3L * SoakWire.TIMEOUT_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    public Map<String, Long> reasonSnapshot() {
        Map<String, Long> m = new TreeMap<>();
        reasons.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }
}
