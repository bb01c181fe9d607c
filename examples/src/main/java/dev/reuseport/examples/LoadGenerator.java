package dev.reuseport.examples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounded load against an echo server: TCP connections (connect, send, half-close, read the echo,
 * close), or UDP flows (a new socket, so a new source port, per flow; one datagram; wait for its echo).
 * Every loop is bounded by a count and a deadline.
 */
public final class LoadGenerator {
    /** What a run did. */
    public record Result(long attempted, long completed, long failed, double seconds) {
        /** Completed per second. */
        public double rate() {
            return seconds <= 0 ? 0 : completed / seconds;
        }
    }

    private LoadGenerator() {
    }

    /**
     * Opens up to {@code total} TCP connections from {@code threads} threads (or until {@code maxSeconds}
     * pass), each sending {@code payload} bytes and checking the echo.
     */
    public static Result tcp(InetSocketAddress target, int total, int threads, int payload, double maxSeconds)
            throws InterruptedException {
        AtomicLong next = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long deadline = System.nanoTime() + (long) (maxSeconds * 1e9);
        long start = System.nanoTime();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                ByteBuffer out = ByteBuffer.allocateDirect(payload);
                ByteBuffer in = ByteBuffer.allocateDirect(payload + 1);
                while (next.getAndIncrement() < total && System.nanoTime() < deadline) {
                    if (tcpOnce(target, out, in, payload)) {
                        ok.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                }
            }, "load-tcp-" + t);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        return new Result(ok.get() + failed.get(), ok.get(), failed.get(), secs);
    }

    /** One connection: connect, send {@code payload} bytes, half-close, read the echo; whether it matched. */
    public static boolean tcpOnce(InetSocketAddress target, ByteBuffer out, ByteBuffer in, int payload) {
        try (SocketChannel ch = SocketChannel.open()) {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.connect(target);
            out.clear();
            for (int i = 0; i < payload; i++) {
                out.put((byte) ('a' + i % 26));
            }
            out.flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ch.shutdownOutput();
            in.clear();
            while (ch.read(in) >= 0) {
                if (!in.hasRemaining()) {
                    return false; // more than was sent came back
                }
            }
            return in.position() == payload;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Sends {@code flows} UDP flows, each from a fresh socket (a distinct source port), {@code perFlow}
     * datagrams each, and waits up to {@code timeoutMillis} for each echo.
     */
    public static Result udp(InetSocketAddress target, int flows, int perFlow, int threads, int timeoutMillis,
                             double maxSeconds) throws InterruptedException {
        AtomicLong next = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        AtomicLong sent = new AtomicLong();
        long deadline = System.nanoTime() + (long) (maxSeconds * 1e9);
        long start = System.nanoTime();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                ByteBuffer in = ByteBuffer.allocate(2048);
                // every flow's socket stays open until the run ends, so no two flows share a source port
                List<DatagramChannel> open = new ArrayList<>();
                try {
                    while (next.getAndIncrement() < flows && System.nanoTime() < deadline) {
                        try {
                            DatagramChannel ch;
                            try {
                                ch = DatagramChannel.open();
                            } catch (IOException e) {
                                sent.incrementAndGet(); // a flow that could not even open counts as failed
                                continue;
                            }
                            open.add(ch);
                            ch.bind(new InetSocketAddress(target.getAddress(), 0));
                            ch.socket().setSoTimeout(timeoutMillis);
                            for (int d = 0; d < perFlow; d++) {
                                byte[] msg = ("flow " + ch.getLocalAddress() + " #" + d).getBytes();
                                sent.incrementAndGet();
                                ch.send(ByteBuffer.wrap(msg), target);
                                in.clear();
                                ch.socket().receive(new java.net.DatagramPacket(in.array(), in.capacity()));
                                ok.incrementAndGet();
                            }
                        } catch (SocketTimeoutException e) {
                            // no echo in time: counted as sent minus completed
                        } catch (IOException e) {
                            // a failed send or receive: counted as sent minus completed
                        }
                    }
                } finally {
                    for (DatagramChannel ch : open) {
                        try {
                            ch.close();
                        } catch (IOException e) {
                            // closing a datagram socket does not fail in a way worth reporting here
                        }
                    }
                }
            }, "load-udp-" + t);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        return new Result(sent.get(), ok.get(), sent.get() - ok.get(), secs);
    }
}
