package dev.reuseport.internal.serve;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The serving engine behind one {@code serve} call: an {@link EventLoop} per worker slot, created when a
 * socket joins the slot and retired when the slot's last socket leaves. It is driven by the group's
 * socket-lending callbacks (joined, leaving, handed over), which the facade forwards here one at a time.
 * Handler failures, rejected dispatches and connections abandoned at a forced stop are logged and counted;
 * they never stop a loop.
 */
public final class ServeEngine {
    private static final System.Logger LOG = System.getLogger(ServeEngine.class.getName());

    private final String name;
    private final StreamService streams;
    private final DatagramService datagrams;
    private final Executor executor;
    private final long drainNanos;
    private final AtomicLong tokens = new AtomicLong();
    /** The loop serving each slot now (a retiring one is replaced on the next join). */
    private final Map<Integer, EventLoop> bySlot = new ConcurrentHashMap<>();
    /** Every loop not yet ended. */
    private final Map<EventLoop, Boolean> live = new ConcurrentHashMap<>();
    /** Each lent descriptor's loop and token. */
    private final Map<Integer, Lent> lent = new ConcurrentHashMap<>();
    private final LongAdder handled = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final LongAdder abandoned = new LongAdder();
    private final LongAdder loopsStarted = new LongAdder();
    private volatile boolean stopped;
    private volatile String lastFailure = "";

    private record Lent(EventLoop loop, long token) {
    }

    private ServeEngine(String name, StreamService streams, DatagramService datagrams, Executor executor,
                        long drainNanos) {
        this.name = name;
        this.streams = streams;
        this.datagrams = datagrams;
        this.executor = executor;
        this.drainNanos = drainNanos;
    }

    /** An engine for a TCP group: each connection goes to {@code service} on {@code executor}. */
    public static ServeEngine forStreams(String name, StreamService service, Executor executor, long drainNanos) {
        return new ServeEngine(name, Objects.requireNonNull(service), null, Objects.requireNonNull(executor),
                drainNanos);
    }

    /** An engine for a UDP group: each datagram goes to {@code service}, on {@code executor} or (null) inline. */
    public static ServeEngine forDatagrams(String name, DatagramService service, Executor executor, long drainNanos) {
        return new ServeEngine(name, null, Objects.requireNonNull(service), executor, drainNanos);
    }

    boolean datagrams() {
        return datagrams != null;
    }

    /**
     * How this engine receives: for datagrams, recvmmsg batches (and whether UDP GRO buffers are split
     * into segments, as the sockets' UDP_GRO option read back says); for streams, accept4 batches.
     *
     * @return one line for a capability report
     */
    public String receivePath() {
        if (!datagrams()) {
            return "epoll, accept4 (non-blocking, up to " + EventLoop.BATCH + " per readiness event)";
        }
        boolean gro = live.keySet().stream().anyMatch(EventLoop::sawGro);
        return "epoll, " + EventLoop.receivePath(gro);
    }

    /** recvmmsg calls made by the loops alive now (tests prove the batched path ran). */
    public long receiveCalls() {
        return live.keySet().stream().mapToLong(EventLoop::receiveCalls).sum();
    }

    long nextToken() {
        return tokens.incrementAndGet();
    }

    /** A socket joined {@code member}'s slot; {@code fd} is the engine's from now on, even when this throws. */
    public void joined(Member member, int fd) throws IOException {
        if (stopped) {
            closeQuietly(fd);
            throw new IllegalStateException(name + " is stopped");
        }
        EventLoop loop = bySlot.get(member.slot());
        boolean fresh = loop == null || loop.isRetiring() || loop.member != member;
        if (fresh) {
            try {
                loop = new EventLoop(this, member, name + "-slot-" + member.slot());
            } catch (IOException e) {
                closeQuietly(fd);
                throw e;
            }
        }
        long token = -nextToken();
        loop.addListener(fd, token);
        lent.put(fd, new Lent(loop, token));
        if (fresh) {
            bySlot.put(member.slot(), loop);
            live.put(loop, Boolean.TRUE);
            loopsStarted.increment();
            loop.start();
        }
    }

    /**
     * The socket behind {@code fd} leaves {@code member}'s slot: the loop stops using it and closes it before
     * this returns; a loop left with no socket drains its connections for the drain time, then ends.
     */
    public void leaving(Member member, int fd) {
        Lent l = lent.remove(fd);
        if (l == null) {
            closeQuietly(fd);
            return;
        }
        l.loop.removeListener(l.token, drainNanos);
        if (bySlot.get(member.slot()) == l.loop && l.loop.isRetiring()) {
            bySlot.remove(member.slot(), l.loop);
        }
    }

    /** A connection taken off a leaving socket's queue, to be served by {@code heir}'s loop. */
    public void handedOver(Member heir, int fd) {
        EventLoop loop = bySlot.get(heir.slot());
        if (loop == null || stopped) {
            failure("no loop serves slot " + heir.slot() + " for a handed-over connection; closing it", null);
            closeQuietly(fd);
            return;
        }
        heir.recordAccepted();
        loop.adopt(fd);
    }

    /** A datagram taken off a leaving socket's queue, to be answered by {@code heir}. */
    public void handedOver(Member heir, byte[] datagram, InetSocketAddress sender) {
        heir.recordReceived();
        long t0 = System.nanoTime();
        EventLoop loop = bySlot.get(heir.slot());
        ByteBuffer payload = ByteBuffer.wrap(datagram);
        if (executor != null || loop == null) {
            dispatchDatagram(null, heir, payload, sender, t0);
        } else {
            loop.post(() -> dispatchDatagram(loop, heir, payload, sender, t0));
        }
    }

    void dispatch(Stream s) {
        try {
            executor.execute(() -> run(s));
        } catch (RejectedExecutionException | NullPointerException e) {
            rejected.increment();
            failure("executor rejected the connection " + s + " of slot " + s.member().slot() + "; closed it", e);
            closeQuietly(s);
        }
    }

    private void run(Stream s) {
        s.runner = Thread.currentThread();
        try {
            streams.serve(s);
        } catch (Throwable t) {
            failures.increment();
            failure("connection handler failed on slot " + s.member().slot() + " (" + s + ")", t);
        } finally {
            s.runner = null;
            Thread.interrupted(); // a forced stop may have interrupted this thread; do not leak that to the pool
            closeQuietly(s);
            handled.increment();
            s.member().recordLatency(System.nanoTime() - s.acceptedNanos);
        }
    }

    void dispatchDatagram(EventLoop loop, ByteBuffer payload, InetSocketAddress from, long t0) {
        dispatchDatagram(loop, loop.member, payload, from, t0);
    }

    private void dispatchDatagram(EventLoop loop, Member m, ByteBuffer payload, InetSocketAddress from, long t0) {
        Runnable task = () -> {
            try {
                datagrams.serve(m, payload, from);
            } catch (Throwable t) {
                failures.increment();
                failure("datagram handler failed on slot " + m.slot() + " (from " + from + ")", t);
            } finally {
                handled.increment();
                m.recordLatency(System.nanoTime() - t0);
            }
        };
        if (executor == null) {
            task.run();
            return;
        }
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            rejected.increment();
            failure("executor rejected a datagram on slot " + m.slot() + " from " + from + "; dropped it", e);
        }
    }

    void abandoned(Stream s) {
        abandoned.increment();
        failure("connection handler still running at the drain deadline on slot " + s.member().slot()
                + "; closed its connection and interrupted " + s.runner, null);
    }

    void ended(EventLoop loop) {
        live.remove(loop);
        bySlot.remove(loop.member.slot(), loop);
    }

    /** Counts and logs a failure (at most one log line per distinct message head). */
    void failure(String what, Throwable t) {
        String msg = what + (t == null ? "" : ": " + t);
        lastFailure = msg;
        LOG.log(System.Logger.Level.WARNING, name + ": " + msg);
    }

    private static void closeQuietly(Stream s) {
        try {
            s.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing " + s + ": " + e);
        }
    }

    private static void closeQuietly(int fd) {
        try {
            dev.reuseport.sys.internal.Sys.close(fd);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing fd " + fd + ": " + e);
        }
    }

    /**
     * Stops every loop: no more accepting; connections get until {@code graceNanos} to finish, then are
     * closed (their handler threads interrupted). Waits for the loops to end, up to the grace plus one
     * second; true when all ended.
     */
    public boolean stop(long graceNanos) throws InterruptedException {
        stopped = true;
        List<EventLoop> loops = new ArrayList<>(live.keySet());
        for (EventLoop l : loops) {
            l.retire(graceNanos);
        }
        return await(graceNanos + 1_000_000_000L);
    }

    /** Waits until every loop ended; true when they did in time. */
    public boolean await(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        for (EventLoop l : new ArrayList<>(live.keySet())) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return live.isEmpty();
            }
            l.thread().join(Math.max(1, left / 1_000_000));
        }
        return live.isEmpty();
    }

    /** Loops running now (one per served slot, plus retiring ones still draining). */
    public int loops() {
        return live.size();
    }

    /** The slots served now, each by a loop that still accepts. */
    public java.util.Set<Integer> servedSlots() {
        java.util.Set<Integer> s = new java.util.TreeSet<>();
        bySlot.forEach((slot, loop) -> {
            if (!loop.isRetiring()) {
                s.add(slot);
            }
        });
        return s;
    }

    /** Connections or datagrams whose handler returned (or threw). */
    public long handled() {
        return handled.sum();
    }

    /** Handlers that threw. */
    public long failures() {
        return failures.sum();
    }

    /** Connections closed, or datagrams dropped, because the executor rejected them. */
    public long rejected() {
        return rejected.sum();
    }

    /** Handlers still running at a drain deadline (their connection closed, their thread interrupted). */
    public long abandoned() {
        return abandoned.sum();
    }

    /** Loops started so far. */
    public long loopsStarted() {
        return loopsStarted.sum();
    }

    /** The last failure logged, or empty. */
    public String lastFailure() {
        return lastFailure;
    }

    /** Whether {@link #stop} was called. */
    public boolean isStopped() {
        return stopped;
    }
}
