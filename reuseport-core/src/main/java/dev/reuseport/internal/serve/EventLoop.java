package dev.reuseport.internal.serve;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.MsgVec;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One worker slot's event loop: a platform thread in epoll_wait over the slot's listening socket(s) (a
 * restart briefly gives it two), its connections and a wake-up eventfd. It accepts in batches of up to
 * {@value #BATCH} without blocking, hands a connection to the executor once its first bytes arrived, and
 * wakes handler threads parked on a connection when it becomes ready again. When its last socket left
 * (the worker was removed, the group closed or handed off) it retires: it accepts nothing more, lets the
 * connections it holds finish until its drain deadline, then closes what is left and ends.
 */
final class EventLoop implements Runnable {
    static final int BATCH = 64;
    private static final long WAKE = 0;
    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());

    private final ServeEngine engine;
    final Member member;
    private final int epfd;
    private final int wakeFd;
    /** The epoll and eventfd descriptors as objects, so no call from another thread touches a reused number. */
    private final NativeFd ep;
    private final NativeFd wake;
    private final Thread thread;
    /** Listening (or UDP) sockets by token (negative); their descriptors are the loop's duplicates. */
    private final Map<Long, NativeFd> listeners = new ConcurrentHashMap<>();
    private final Map<Long, Stream> streams = new ConcurrentHashMap<>();
    /** Streams whose first event was seen (dispatched to the handler); loop thread only. */
    private final java.util.Set<Long> dispatched = new java.util.HashSet<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean retiring;
    private volatile long forceAt = Long.MAX_VALUE;
    private final ByteBuffer events = ByteBuffer.allocateDirect(Sys.EPOLL_EVENT_SIZE * 256).order(ByteOrder.nativeOrder());
    private final ByteBuffer one = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    /** recvmmsg vectors, made on the first datagram (loop thread only). */
    private MsgVec batch;
    private MsgVec groBatch;
    private final byte[] nameBytes = new byte[SockAddr.MAX_LEN];
    private final byte[] lastName = new byte[SockAddr.IN6_LEN];
    private InetSocketAddress lastFrom;
    /** UDP_GRO per listening descriptor, read once; forgotten when the descriptor leaves the loop. */
    private final Map<Integer, Boolean> groByFd = new ConcurrentHashMap<>();
    private volatile boolean sawGro;
    private volatile long receiveCalls;

    EventLoop(ServeEngine engine, Member member, String name) throws NativeException {
        this.engine = engine;
        this.member = member;
        this.epfd = Sys.epollCreate();
        int w;
        try {
            w = Sys.eventfd();
            try {
                Sys.epollCtl(epfd, Sys.EPOLL_CTL_ADD, w, Sys.EPOLLIN, WAKE);
            } catch (NativeException e) {
                Sys.close(w);
                throw e;
            }
        } catch (NativeException e) {
            Sys.close(epfd);
            throw e;
        }
        this.wakeFd = w;
        this.ep = new NativeFd(epfd, false);
        this.wake = new NativeFd(w, false);
        this.thread = new Thread(this, name);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** epoll_ctl on this loop's set, from any thread; ClosedChannelException once the loop ended. */
    void ctl(int op, int fd, int events, long data) throws java.io.IOException {
        int e = ep.acquire();
        try {
            Sys.epollCtl(e, op, fd, events, data);
        } finally {
            ep.release();
        }
    }

    Thread thread() {
        return thread;
    }

    boolean isRetiring() {
        return retiring;
    }

    /** Adds a listening socket (the loop owns {@code fd} from now on, even when this throws). */
    void addListener(int fd, long token) throws java.io.IOException {
        NativeFd f = new NativeFd(fd, false);
        if (engine.datagrams()) {
            groFor(fd);
        }
        listeners.put(token, f);
        try {
            ctl(Sys.EPOLL_CTL_ADD, fd, Sys.EPOLLIN, token);
        } catch (java.io.IOException e) {
            listeners.remove(token);
            f.close();
            throw e;
        }
    }

    /**
     * Removes and closes a listening socket; when it was the last, the loop retires with {@code drainNanos}
     * for its connections. The close completes before this returns unless an accept is in flight on it
     * right now, which then closes the number as it ends (microseconds later).
     */
    boolean removeListener(long token, long drainNanos) {
        NativeFd f = listeners.remove(token);
        if (f == null) {
            return false;
        }
        groByFd.remove(f.number());
        try {
            ctl(Sys.EPOLL_CTL_DEL, f.number(), 0, 0);
        } catch (java.io.IOException e) {
            // ENOENT/EBADF: already gone with its last reference; the close below is what matters
        }
        try {
            f.close();
        } catch (NativeException e) {
            LOG.log(System.Logger.Level.WARNING, "slot " + member.slot() + ": closing listener fd " + f.number()
                    + ": " + e.getMessage());
        }
        if (listeners.isEmpty()) {
            retire(drainNanos);
        }
        return true;
    }

    /** Stops accepting and ends once the connections finished, or at the deadline (closing what is left). */
    void retire(long drainNanos) {
        long at = System.nanoTime() + Math.max(0, drainNanos);
        if (!retiring || at < forceAt) {
            forceAt = at;
        }
        retiring = true;
        wakeUp();
    }

    /** Takes over a connection (a leaving socket's queue, or one just accepted). */
    void adopt(int fd) {
        long token = engine.nextToken();
        Stream s = new Stream(fd, this, member, token);
        streams.put(token, s);
        try {
            s.register(this);
        } catch (java.io.IOException e) {
            engine.failure("registering connection fd " + fd + " of slot " + member.slot(), e);
            closeQuietly(s);
        }
    }

    private static final int POOLED = 16 * 1024;
    private final ConcurrentLinkedQueue<ByteBuffer> directPool = new ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger pooled = new java.util.concurrent.atomic.AtomicInteger();

    /** A cleared {@value #POOLED}-byte direct buffer for one call; give it back with {@link #returnDirect}. */
    ByteBuffer borrowDirect() {
        ByteBuffer b = directPool.poll();
        if (b == null) {
            return ByteBuffer.allocateDirect(POOLED);
        }
        pooled.decrementAndGet();
        return b.clear();
    }

    /** Returns a buffer from {@link #borrowDirect}; at most 64 are kept. */
    void returnDirect(ByteBuffer b) {
        if (pooled.incrementAndGet() <= 64) {
            directPool.offer(b);
        } else {
            pooled.decrementAndGet();
        }
    }

    /** Runs {@code task} on the loop thread. */
    void post(Runnable task) {
        tasks.add(task);
        wakeUp();
    }

    void forget(Stream s) {
        streams.remove(s.token);
        if (retiring && streams.isEmpty()) {
            wakeUp();
        }
    }

    private void wakeUp() {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, 1);
        int n;
        try {
            n = wake.acquire();
        } catch (ClosedChannelException e) {
            return; // the loop ended: nothing to wake
        }
        try {
            Sys.write(n, b);
        } catch (NativeException e) {
            engine.failure("waking the loop of slot " + member.slot(), e);
        } finally {
            wake.release();
        }
    }

    @Override
    public void run() {
        try {
            loop();
        } catch (Throwable t) {
            engine.failure("event loop of slot " + member.slot() + " failed; its connections are closed", t);
        } finally {
            end();
        }
    }

    private void loop() throws NativeException {
        final int size = Sys.EPOLL_EVENT_SIZE;
        final int dataAt = Sys.EPOLL_DATA_OFFSET;
        for (;;) {
            if (retiring && listeners.isEmpty() && (streams.isEmpty() || System.nanoTime() - forceAt >= 0)) {
                return;
            }
            int n = Sys.epollWait(epfd, events, retiring ? 20 : 1000);
            for (int i = 0; i < n; i++) {
                int ev = events.getInt(i * size);
                long token = events.getLong(i * size + dataAt);
                if (token == WAKE) {
                    one.clear();
                    Sys.read(wakeFd, one);
                } else if (token < 0) {
                    NativeFd l = listeners.get(token);
                    if (l != null) {
                        if (engine.datagrams()) {
                            receive(l);
                        } else {
                            accept(l);
                        }
                    }
                } else {
                    Stream s = streams.get(token);
                    if (s != null) {
                        if (dispatched.add(token)) {
                            engine.dispatch(s);
                        } else {
                            s.wake();
                        }
                    }
                }
            }
            Runnable t;
            while ((t = tasks.poll()) != null) {
                try {
                    t.run();
                } catch (RuntimeException e) {
                    engine.failure("task on the loop of slot " + member.slot(), e);
                }
            }
            if (!dispatched.isEmpty() && dispatched.size() > 4 * streams.size() + 1024) {
                dispatched.retainAll(streams.keySet());
            }
        }
    }

    private void accept(NativeFd l) {
        int fd;
        try {
            fd = l.acquire();
        } catch (ClosedChannelException e) {
            return;
        }
        try {
            for (int i = 0; i < BATCH; i++) {
                int c = Sys.accept(fd, true);
                if (c < 0) {
                    return;
                }
                member.recordAccepted();
                adopt(c);
            }
        } catch (NativeException e) {
            // EMFILE and the like: count, pause briefly so a level-triggered listener does not spin
            engine.failure("accept on slot " + member.slot(), e);
            java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
        } finally {
            l.release();
        }
    }

    /**
     * Drains up to {@value #BATCH} datagrams (or GRO buffers) per readiness event with one recvmmsg(2)
     * into a slab reused for the loop's life; with UDP GRO on the socket each coalesced buffer is cut
     * into its segments, each dispatched as its own datagram with the buffer's source. The payload the
     * service keeps is a heap copy of exactly the datagram; the native slab, the message vector and the
     * address bytes are never reallocated.
     */
    private void receive(NativeFd l) {
        int fd;
        try {
            fd = l.acquire();
        } catch (ClosedChannelException e) {
            return;
        }
        try {
            boolean gro = groFor(fd);
            MsgVec v = gro ? groVec() : batchVec();
            ByteBuffer slab = v.data();
            int slotBytes = v.slotBytes();
            for (int round = 0; round < 16; round++) {
                int r = v.receive(fd, v.slots(), Sys.MSG_DONTWAIT, gro);
                if (r <= 0) {
                    return;
                }
                receiveCalls++;
                long t0 = System.nanoTime();
                for (int i = 0; i < r; i++) {
                    int len = Math.min(v.length(i), slotBytes);
                    InetSocketAddress from = source(v, i);
                    int seg = gro ? v.groSegmentSize(i) : 0;
                    if (seg <= 0 || seg >= len) {
                        deliver(slab, i * slotBytes, len, from, t0);
                    } else {
                        for (int off = 0; off < len; off += seg) {
                            deliver(slab, i * slotBytes + off, Math.min(seg, len - off), from, t0);
                        }
                    }
                }
                if (r < v.slots()) {
                    return;
                }
            }
        } catch (NativeException e) {
            engine.failure("receive on slot " + member.slot(), e);
        } finally {
            l.release();
        }
    }

    private void deliver(ByteBuffer slab, int at, int len, InetSocketAddress from, long t0) {
        byte[] copy = new byte[len];
        slab.get(at, copy, 0, len);
        member.recordReceived();
        engine.dispatchDatagram(this, ByteBuffer.wrap(copy), from, t0);
    }

    /** The sender of slot {@code i}: the previous object again when the address bytes are the same. */
    private InetSocketAddress source(MsgVec v, int i) {
        int n = v.copyNameOut(i, nameBytes);
        java.util.Arrays.fill(nameBytes, n, nameBytes.length, (byte) 0);
        if (lastFrom != null && java.util.Arrays.equals(nameBytes, 0, SockAddr.IN6_LEN, lastName, 0, SockAddr.IN6_LEN)) {
            return lastFrom;
        }
        System.arraycopy(nameBytes, 0, lastName, 0, SockAddr.IN6_LEN);
        lastFrom = SockAddr.decode(nameBytes);
        return lastFrom;
    }

    /** Whether UDP_GRO is on for this socket, read back from the kernel once per descriptor. */
    private boolean groFor(int fd) {
        Boolean g = groByFd.get(fd);
        if (g == null) {
            try {
                g = Sys.getInt(fd, MsgVec.SOL_UDP, MsgVec.UDP_GRO) != 0;
            } catch (NativeException e) {
                g = Boolean.FALSE; // ENOPROTOOPT before 5.0: no GRO
            }
            groByFd.put(fd, g);
        }
        if (g) {
            sawGro = true;
        }
        return g;
    }

    private MsgVec batchVec() {
        if (batch == null) {
            batch = new MsgVec(BATCH_SLOTS, SLOT_BYTES);
        }
        return batch;
    }

    private MsgVec groVec() {
        if (groBatch == null) {
            groBatch = new MsgVec(GRO_BATCH, GRO_SLOT_BYTES);
        }
        return groBatch;
    }

    /**
     * Datagrams per recvmmsg call on a socket without GRO: 16 slots of the largest UDP payload (1 MiB of
     * native memory per loop, made on its first datagram), so no datagram is ever truncated.
     */
    static final int BATCH_SLOTS = 16;
    /** Payload room per slot without GRO: the largest UDP payload over IPv4. */
    static final int SLOT_BYTES = MsgVec.MAX_UDP_PAYLOAD;
    /** Coalesced buffers per recvmmsg call on a socket with UDP GRO. */
    static final int GRO_BATCH = 8;
    /** Room per GRO slot: a whole coalesced buffer (up to 64 KiB). */
    static final int GRO_SLOT_BYTES = 65_535;

    /** How this loop receives datagrams, for the capability report. */
    static String receivePath(boolean gro) {
        return gro ? "recvmmsg, " + GRO_BATCH + " coalesced buffers per call, UDP GRO segments split in place"
                : "recvmmsg, up to " + BATCH_SLOTS + " datagrams per call";
    }

    boolean sawGro() {
        return sawGro;
    }

    long receiveCalls() {
        return receiveCalls;
    }

    /** Whether called on this loop's own thread. */
    boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    private void end() {
        for (Long token : listeners.keySet()) {
            removeListener(token, 0);
        }
        for (Stream s : streams.values()) {
            if (s.runner != null) {
                engine.abandoned(s);
                s.runner.interrupt();
            }
            closeQuietly(s);
        }
        Runnable t;
        while ((t = tasks.poll()) != null) {
            try {
                t.run();
            } catch (RuntimeException e) {
                engine.failure("task on the loop of slot " + member.slot(), e);
            }
        }
        try {
            wake.close();
        } catch (NativeException e) {
            engine.failure("closing the wake-up eventfd of slot " + member.slot(), e);
        }
        try {
            ep.close();
        } catch (NativeException e) {
            engine.failure("closing the epoll descriptor of slot " + member.slot(), e);
        }
        engine.ended(this);
    }

    private void closeQuietly(Stream s) {
        try {
            s.close();
        } catch (NativeException e) {
            engine.failure("closing " + s, e);
        }
    }

    int connections() {
        return streams.size();
    }

    @Override
    public String toString() {
        return "EventLoop[slot " + member.slot() + ", " + listeners.size() + " sockets, " + streams.size()
                + " connections" + (retiring ? ", retiring" : "") + "]";
    }
}
