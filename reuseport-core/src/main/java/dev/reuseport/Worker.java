package dev.reuseport;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * One member of a group: a socket with a stable slot id. The slot is the worker's identity (and its
 * index in the steering program's REUSEPORT_SOCKARRAY); it never changes, unlike the kernel's own group
 * index, which moves whenever a member leaves. TCP workers accept; UDP workers receive and send.
 * Methods may be called from any thread; one thread per worker is the usual shape.
 */
public final class Worker {
    /** How long a blocking wait sleeps at most before looking again whether the worker was closed. */
    static final int POLL_SLICE_MILLIS = 50;

    private final ReuseportGroup group;
    /** The group as messages name it. */
    private final String groupName;
    private final int slot;
    private final Protocol protocol;
    private final int family;
    private volatile NativeFd fd;
    private final LongAdder accepted = new LongAdder();
    private final LongAdder received = new LongAdder();
    private final LongAdder sent = new LongAdder();
    /** Calls of accept or receive so far (the watchdog's sign of life): bumped without a clock read. */
    private final AtomicLong calls = new AtomicLong();
    /** Latency recorded by the application, in microseconds. */
    private final WorkerLatency latency = new WorkerLatency();
    /** Datagrams through the ingest paths (batched and zero-allocation receive, batched send). */
    private final IngestCounters ingest = new IngestCounters();

    Worker(ReuseportGroup group, String groupName, int slot, Protocol protocol, int family, int fd) {
        this.group = group;
        this.groupName = groupName;
        this.slot = slot;
        this.protocol = protocol;
        this.family = family;
        this.fd = new NativeFd(fd, false);
    }

    /**
     * The worker's stable identity within the group: its index in the steering program's socket array,
     * kept across restarts and other workers' removal.
     *
     * @return the slot id, {@code 0..ReuseportGroup.MAX_WORKERS-1}
     */
    public int slot() {
        return slot;
    }

    /**
     * What this worker's socket carries: TCP workers accept, UDP workers receive and send.
     *
     * @return the group's protocol
     */
    public Protocol protocol() {
        return protocol;
    }

    /**
     * The group this worker belongs to.
     *
     * @return the group
     */
    public ReuseportGroup group() {
        return group;
    }

    NativeFd socket() {
        return fd;
    }

    private int acquire(NativeFd f) throws GroupClosedException {
        try {
            return f.acquire();
        } catch (ClosedChannelException e) {
            if (removed) {
                throw new WorkerRemovedException(slot, groupName);
            }
            throw new GroupClosedException("worker " + slot + " of " + groupName);
        }
    }

    /** Set once the worker left its group by removal (the group still open). */
    private volatile boolean removed;

    /** Marks this worker removed: its calls now fail with {@link WorkerRemovedException}. */
    void markRemoved() {
        removed = true;
    }

    /**
     * Whether this worker was removed from its group ({@link ReuseportGroup#removeWorker}, a shrinking
     * resize); its calls then throw {@link WorkerRemovedException}.
     *
     * @return true once removed
     */
    public boolean isRemoved() {
        return removed;
    }

    /**
     * Puts a new socket under this worker (a restart's next socket generation, its holder made by the caller,
     * who lent it out already) and returns the old one, which the caller closes. Calls in flight finish on the
     * old socket; later calls use the new one.
     */
    NativeFd swap(NativeFd next) {
        NativeFd old = fd;
        fd = next;
        return old;
    }

    /** Connections and datagrams taken off a closing socket's queue when the kernel cannot migrate them. */
    private final ParkedWork parkedWork = new ParkedWork();

    /** Queues a datagram read from this worker's previous socket, for {@link #receive} to return. */
    void handOver(byte[] datagram, InetSocketAddress from) {
        parkedWork.park(datagram, from);
    }

    /** Queues a connection accepted from this worker's previous socket, for {@link #accept} to return. */
    void handOver(Connection c) {
        accepted.increment();
        parkedWork.park(c);
    }

    /**
     * Waits up to {@code timeout} for a connection and accepts it as a blocking {@link Connection}
     * ({@code accept4} with SOCK_CLOEXEC). The wait polls in slices of at most 50 ms, so a close of the
     * group is seen within one slice.
     *
     * @param timeout how long to wait at most; zero or negative: do not wait
     * @return the connection, which the caller closes, or null when none arrived in time
     * @throws UnsupportedOperationException on a UDP worker
     * @throws GroupClosedException when the group is (or gets) closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when {@code accept4} or {@code poll} fails with another errno
     */
    public Connection accept(Duration timeout) throws IOException {
        return accept(timeout, false);
    }

    /**
     * Accepts a queued connection without waiting, for event loops that learned from elsewhere that one
     * is queued.
     *
     * @param nonBlockingConnection whether the returned connection is in non-blocking mode (O_NONBLOCK)
     * @return the connection, which the caller closes, or null when none is queued
     * @throws UnsupportedOperationException on a UDP worker
     * @throws GroupClosedException when the group is closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when {@code accept4} fails with another errno
     */
    public Connection tryAccept(boolean nonBlockingConnection) throws IOException {
        return accept(Duration.ZERO, nonBlockingConnection);
    }

    /**
     * Waits up to {@code timeout} for a connection and accepts it. Connections a restart took off the
     * previous socket's queue (when the kernel could not migrate them) come first. The wait polls in
     * slices of at most 50 ms, so a close of the group is seen within one slice.
     *
     * @param timeout               how long to wait at most; zero or negative: do not wait
     * @param nonBlockingConnection whether the returned connection is in non-blocking mode (O_NONBLOCK)
     * @return the connection, which the caller closes, or null when none arrived in time
     * @throws UnsupportedOperationException on a UDP worker
     * @throws GroupClosedException when the group is (or gets) closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when {@code accept4} or {@code poll} fails with another errno
     */
    public Connection accept(Duration timeout, boolean nonBlockingConnection) throws IOException {
        requireProtocol(Protocol.TCP, "accept");
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            calls.lazySet(calls.get() + 1);
            Connection queued = parkedWork.connection();
            if (queued != null) {
                return queued;
            }
            NativeFd f = fd;
            int n = acquire(f);
            try {
                int c = Sys.accept(n, nonBlockingConnection);
                if (c >= 0) {
                    accepted.increment();
                    return new Connection(c, slot, nonBlockingConnection);
                }
                if (!awaitReadable(n, deadline)) {
                    return null;
                }
            } finally {
                f.release();
            }
        }
    }

    /**
     * Waits up to {@code timeout} for a datagram and reads it into {@code dst}, truncated to the room left
     * (the rest of the datagram is lost, as the kernel does). Datagrams a restart took off the previous
     * socket come first. The wait polls in slices of at most 50 ms, so a close of the group is seen within
     * one slice.
     *
     * @param dst     where the datagram goes, from its position; its position advances by the bytes read
     * @param timeout how long to wait at most; zero or negative: do not wait
     * @return the sender's address, or null when no datagram arrived in time
     * @throws UnsupportedOperationException on a TCP worker
     * @throws GroupClosedException when the group is (or gets) closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when {@code recvfrom} or {@code poll} fails with another errno
     */
    public InetSocketAddress receive(ByteBuffer dst, Duration timeout) throws IOException {
        requireProtocol(Protocol.UDP, "receive");
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            calls.lazySet(calls.get() + 1);
            InetSocketAddress queued = parkedWork.datagramInto(dst);
            if (queued != null) {
                received.increment();
                return queued;
            }
            NativeFd f = fd;
            int n = acquire(f);
            try {
                InetSocketAddress from = Sys.receive(n, dst, Sys.MSG_DONTWAIT);
                if (from != null) {
                    received.increment();
                    return from;
                }
                if (!awaitReadable(n, deadline)) {
                    return null;
                }
            } finally {
                f.release();
            }
        }
    }

    /**
     * Polls {@code n} for input until {@code deadline}, one slice at a time (so that a close is seen
     * within a slice); false once the deadline has passed.
     */
    private static boolean awaitReadable(int n, long deadline) throws NativeException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            return false;
        }
        Sys.poll(n, Sys.POLLIN, (int) Math.min(POLL_SLICE_MILLIS, Math.max(1, left / 1_000_000)));
        return true;
    }

    /**
     * Sends {@code src}'s remaining bytes as one datagram to {@code target} from this worker's socket (so
     * the reply leaves from the group's address and port), without blocking.
     *
     * @param src    the datagram, from its position to its limit; its position advances when it is sent
     * @param target where to send it
     * @return true when it was sent, false when the socket's send buffer was full (EAGAIN) and nothing was
     *         sent
     * @throws UnsupportedOperationException on a TCP worker
     * @throws IllegalArgumentException when a heap buffer holds more than 64 KiB (use a direct buffer)
     * @throws GroupClosedException when the group is closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when {@code sendto} fails otherwise, e.g. EMSGSIZE for a datagram too large
     */
    public boolean send(ByteBuffer src, InetSocketAddress target) throws IOException {
        requireProtocol(Protocol.UDP, "send");
        NativeFd f = fd;
        int n = acquire(f);
        try {
            int r = Sys.send(n, src, target, family, Sys.MSG_DONTWAIT);
            if (r > 0 || !src.hasRemaining()) {
                sent.increment();
                return true;
            }
            return false;
        } finally {
            f.release();
        }
    }

    /**
     * Records how long one request took on this worker (the application's own notion: accept to
     * response written, datagram in to reply out). Lock-free; feeds the per-worker p50/p99/p999 of
     * {@link MetricsSampler} windows and the controller's p99 trigger. Values are kept in whole
     * microseconds with three significant digits.
     *
     * @param nanos the duration in nanoseconds; anything under a microsecond counts as one
     */
    public void recordLatency(long nanos) {
        latency.record(nanos);
    }

    /** A copy of every latency recorded so far, in microseconds. */
    org.HdrHistogram.Histogram latencySnapshot() {
        return latency.snapshot();
    }

    /**
     * The socket's cookie ({@code SO_COOKIE}, Linux 4.12): the kernel's unique id of the socket, and what
     * it reports for it in a REUSEPORT_SOCKARRAY. A restart gives the worker a new socket and so a new
     * cookie.
     *
     * @return the cookie, never 0
     * @throws GroupClosedException when the group is closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when the kernel refuses (ENOPROTOOPT before 4.12)
     */
    public long cookie() throws IOException {
        NativeFd f = fd;
        int n = acquire(f);
        try {
            return Sys.getLong(n, Sys.SOL_SOCKET, Sys.SO_COOKIE);
        } finally {
            f.release();
        }
    }

    /**
     * Counts a connection that an external I/O engine (a {@link SocketListener}) accepted from this
     * worker's socket, or took over from {@link SocketListener#handedOver(Worker, Connection)}, so that
     * {@link #stats()} and the metrics include it. For the stall watchdog it counts as a call to accept.
     * {@link #accept} counts its own.
     */
    public void recordAccepted() {
        calls.lazySet(calls.get() + 1);
        accepted.increment();
    }

    /** As {@link #recordAccepted()}, for a datagram an external engine received on this worker's socket. */
    public void recordReceived() {
        calls.lazySet(calls.get() + 1);
        received.increment();
    }

    /** Counts a datagram an external engine sent from this worker's socket ({@link #send} counts its own). */
    public void recordSent() {
        sent.increment();
    }

    /** How many times accept or receive was entered (or an external engine counted one); 0 if never. */
    long calls() {
        return calls.get();
    }

    /** Whether work waits in the kernel for this worker: queued connections (TCP) or datagrams (UDP). */
    boolean hasQueuedWork() throws IOException {
        if (parked() > 0) {
            return true; // work a restart parked in memory counts too
        }
        NativeFd f = fd;
        int n = acquire(f);
        try {
            if (protocol == Protocol.TCP) {
                return Sys.listenerQueue(n)[0] > 0;
            }
            byte[] mem = Sys.getBytes(n, Sys.SOL_SOCKET, Sys.SO_MEMINFO, Sys.SK_MEMINFO_VARS * 4);
            return java.nio.ByteBuffer.wrap(mem).order(java.nio.ByteOrder.nativeOrder()).getInt(0) > 0;
        } finally {
            f.release();
        }
    }

    /**
     * The worker's counters now, with the kernel's figures for its socket: for TCP the accept queue's
     * length and limit ({@code TCP_INFO} of the listener), for both the drop counter ({@code SO_MEMINFO}).
     *
     * @return a snapshot; accepted, received and sent count since the worker was added, drops since its
     *         socket was opened
     * @throws GroupClosedException when the group is closed
     * @throws WorkerRemovedException when this worker was removed from the group (which stays open)
     * @throws IOException when a socket option cannot be read
     */
    public WorkerStats stats() throws IOException {
        int depth = 0;
        int limit = 0;
        long drops;
        NativeFd f = fd;
        int n = acquire(f);
        try {
            if (protocol == Protocol.TCP) {
                int[] q = Sys.listenerQueue(n);
                depth = q[0];
                limit = q[1];
            }
            drops = Sys.drops(n);
        } finally {
            f.release();
        }
        return new WorkerStats(slot, accepted.sum(), received.sum() + ingest.received(),
                sent.sum() + ingest.sent(), depth, limit, drops);
    }

    private void requireProtocol(Protocol wanted, String op) {
        if (protocol != wanted) {
            throw new UnsupportedOperationException(op + " is for " + wanted + " workers; worker " + slot
                    + " is " + protocol);
        }
    }

    void close() throws NativeException {
        fd.close();
    }

    @Override
    public String toString() {
        return "Worker[slot " + slot + ", " + protocol + ", " + fd + "]";
    }

    // --- ingest: zero-allocation and batched receive/send, socket options read back (issue 16) ---

    /**
     * Waits up to {@code timeout} for a datagram and reads it into {@code dst}, its sender into
     * {@code from}, allocating nothing per datagram: no address object, no array, no contended atomic
     * (the counter is a single-writer opaque field, the fd guard a compare-and-set on an uncontended
     * word). A datagram longer than the room left is truncated (see {@link DatagramSource#truncated()}).
     * Datagrams a restart took off the previous socket come first. The wait polls in slices of at most
     * 50 ms, so a close of the group is seen within one slice.
     *
     * @param dst     where the payload goes, from its position (which advances); a direct buffer avoids a
     *                copy
     * @param from    the holder that receives the sender's address
     * @param timeout how long to wait at most; zero or negative: do not wait
     * @return the bytes placed in {@code dst}, or -1 when no datagram arrived in time
     * @throws UnsupportedOperationException on a TCP worker
     * @throws GroupClosedException when the group is (or gets) closed
     * @throws IOException when {@code recvmsg} or {@code poll} fails with another errno
     */
    public int receive(ByteBuffer dst, DatagramSource from, Duration timeout) throws IOException {
        requireProtocol(Protocol.UDP, "receive");
        long deadline = 0; // read the clock only when the socket is empty: not once per datagram
        dev.reuseport.sys.internal.MsgVec v = from.vec();
        for (;;) {
            calls.lazySet(calls.get() + 1);
            int len = parkedWork.datagramInto(dst, from, family);
            if (len >= 0) {
                ingest.received(1);
                return len;
            }
            NativeFd f = fd;
            int n = acquire(f);
            try {
                int r = v.receiveInto(n, dst, Sys.MSG_DONTWAIT);
                if (r >= 0) {
                    from.fillFrom(v, 0);
                    ingest.received(1);
                    return r;
                }
                deadline = deadline != 0 ? deadline : System.nanoTime() + timeout.toNanos();
                if (!awaitReadable(n, deadline)) {
                    return -1;
                }
            } finally {
                f.release();
            }
        }
    }

    /**
     * Waits up to {@code timeout} for datagrams and receives as many as are queued, up to the batch's
     * capacity, with one recvmmsg(2) call into the batch's native buffers: no allocation, no copy beyond
     * the kernel's. With UDP GRO on ({@link IngestOptions#udpGro(boolean)}) a slot may hold a
     * coalesced buffer; see {@link DatagramBatch#segmentCount(int)}. Datagrams a restart took off the
     * previous socket come first (in a batch of their own). The wait polls in slices of at most 50 ms.
     *
     * @param batch   the caller's batch; on return slots {@code 0..n-1} hold the datagrams
     * @param timeout how long to wait at most; zero or negative: do not wait
     * @return n, the slots filled, or 0 when none arrived in time
     * @throws UnsupportedOperationException on a TCP worker
     * @throws GroupClosedException when the group is (or gets) closed
     * @throws IOException when {@code recvmmsg} or {@code poll} fails with another errno
     */
    public int receive(DatagramBatch batch, Duration timeout) throws IOException {
        requireProtocol(Protocol.UDP, "receive");
        long deadline = System.nanoTime() + timeout.toNanos();
        dev.reuseport.sys.internal.MsgVec v = batch.vec();
        for (;;) {
            calls.lazySet(calls.get() + 1);
            int k = parkedWork.datagramsInto(batch, family);
            if (k > 0) {
                ingest.received(k);
                return k;
            }
            NativeFd f = fd;
            int n = acquire(f);
            try {
                int r = v.receive(n, batch.capacity(), Sys.MSG_DONTWAIT, true);
                if (r > 0) {
                    batch.received(r, true);
                    ingest.received(r);
                    return r;
                }
                if (!awaitReadable(n, deadline)) {
                    batch.received(0, false);
                    return 0;
                }
            } finally {
                f.release();
            }
        }
    }

    /**
     * Sends slots {@code 0..batch.count()-1} with one sendmmsg(2) call from this worker's socket (so the
     * datagrams leave from the group's address and port), without blocking. A slot with a segment size
     * ({@link DatagramBatch#setSegmentSize(int, int)}) is a GSO send that the kernel cuts into datagrams.
     *
     * @param batch the batch, with count, lengths and targets set
     * @return the slots sent (from slot 0; fewer than the count when the send buffer filled, 0 when it was
     *         full)
     * @throws UnsupportedOperationException on a TCP worker
     * @throws IllegalStateException when the count is not set or a slot has no target
     * @throws GroupClosedException when the group is closed
     * @throws IOException when {@code sendmmsg} fails otherwise (EINVAL for too many GSO segments, EIO
     *                     when the device cannot segment)
     */
    public int send(DatagramBatch batch) throws IOException {
        requireProtocol(Protocol.UDP, "send");
        int c = batch.prepareSend();
        NativeFd f = fd;
        int n = acquire(f);
        try {
            int r = batch.vec().send(n, 0, c, Sys.MSG_DONTWAIT);
            ingest.sent(r);
            return r;
        } finally {
            f.release();
        }
    }

    /**
     * Whether UDP GRO is on for this worker's socket, read back from the kernel (getsockopt UDP_GRO).
     *
     * @return true when on
     * @throws GroupClosedException when the group is closed
     * @throws IOException when the kernel refuses (ENOPROTOOPT before 5.0)
     */
    public boolean udpGro() throws IOException {
        return readInt(Sys.SOL_UDP, Sys.UDP_GRO) != 0;
    }

    /**
     * SO_BUSY_POLL of this worker's socket, read back from the kernel.
     *
     * @return microseconds of busy polling per blocking receive, 0 when off
     * @throws GroupClosedException when the group is closed
     * @throws IOException when the kernel refuses
     */
    public int busyPollMicros() throws IOException {
        return readInt(Sys.SOL_SOCKET, Sys.SO_BUSY_POLL);
    }

    /**
     * SO_PREFER_BUSY_POLL of this worker's socket, read back from the kernel.
     *
     * @return true when on
     * @throws GroupClosedException when the group is closed
     * @throws IOException when the kernel refuses (ENOPROTOOPT before 5.11)
     */
    public boolean preferBusyPoll() throws IOException {
        return readInt(Sys.SOL_SOCKET, Sys.SO_PREFER_BUSY_POLL) != 0;
    }

    private int readInt(int level, int option) throws IOException {
        NativeFd f = fd;
        int n = acquire(f);
        try {
            return Sys.getInt(n, level, option);
        } finally {
            f.release();
        }
    }

    // --- work parked in memory follows the worker's heir (issue 15, Medium) ---

    /** Connections and datagrams parked in this worker's memory (taken off a previous socket), not yet returned. */
    int parked() {
        return parkedWork.size();
    }

    /** Moves what is parked in this worker's memory to {@code heir} (a removal); how many moved. */
    int moveParkedTo(Worker heir) {
        return parkedWork.moveTo(heir.parkedWork);
    }

    /** Closes the connections and drops the datagrams still parked (the group closes); how many. */
    int closeParked() {
        return parkedWork.close();
    }
}
