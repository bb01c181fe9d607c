package dev.reuseport;

import dev.reuseport.internal.serve.Member;
import dev.reuseport.internal.serve.ServeEngine;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * A group being served by its own event loops, as started by {@link ReuseportGroup#serve} or
 * {@link ReuseportGroup#serveDatagrams}: one epoll loop (a platform thread) per worker, following the
 * group's membership by itself. A worker added by {@link ReuseportGroup#addWorker addWorker} or a growing
 * {@link ReuseportGroup#resize resize} is served at once; a restart's new sockets are served before the old
 * ones leave; a removed worker's loop stops accepting once its socket leaves (what was queued on it goes to
 * a surviving worker's loop), lets its connections finish for the drain time and ends; a hand-off or
 * {@link ReuseportGroup#close()} does the same for every loop. Latency (accept or receive to handler
 * return) is recorded on each worker ({@link Worker#recordLatency}).
 *
 * <p>{@link #close()} stops serving and gives the sockets back to the group, which stays open.
 */
public final class Serving implements AutoCloseable {
    /** How long a retiring loop lets its connections finish before closing them, unless told otherwise. */
    public static final Duration DEFAULT_DRAIN = Duration.ofSeconds(5);

    private final ReuseportGroup group;
    private final ServeEngine engine;
    private final Duration drain;
    private final Lending lending = new Lending();
    private final Map<Worker, Member> members = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    private Serving(ReuseportGroup group, ServeEngine engine, Duration drain) {
        this.group = group;
        this.engine = engine;
        this.drain = drain;
    }

    static Serving streams(ReuseportGroup group, ConnectionHandler handler, Executor executor, Duration drain)
            throws IOException {
        require(group, handler, "a ConnectionHandler", Protocol.TCP, "serveDatagrams");
        if (executor == null) {
            throw new IllegalArgumentException("executor null; accepted: an Executor, e.g. "
                    + "Executors.newVirtualThreadPerTaskExecutor() or a thread pool");
        }
        requireDrain(drain);
        ServeEngine e = ServeEngine.forStreams(name(group), s -> handler.handle(new ServedConnection(s)),
                executor, drain.toNanos());
        return start(new Serving(group, e, drain));
    }

    static Serving datagrams(ReuseportGroup group, DatagramHandler handler, Executor executor, Duration drain)
            throws IOException {
        require(group, handler, "a DatagramHandler", Protocol.UDP, "serve");
        requireDrain(drain);
        ServeEngine e = ServeEngine.forDatagrams(name(group),
                (m, payload, from) -> handler.handle(new ServedDatagram(m, payload, from)), executor, drain.toNanos());
        return start(new Serving(group, e, drain));
    }

    private static void require(ReuseportGroup group, Object handler, String accepted, Protocol wanted, String other) {
        if (handler == null) {
            throw new IllegalArgumentException("handler null; accepted: " + accepted);
        }
        if (group.protocol() != wanted) {
            throw new UnsupportedOperationException(group + " is " + group.protocol() + "; serving it needs "
                    + other + "(...)");
        }
    }

    private static void requireDrain(Duration drain) {
        if (drain == null || drain.isNegative()) {
            throw new IllegalArgumentException("drain " + drain + " is not a duration; accepted: zero or more");
        }
    }

    private static String name(ReuseportGroup group) {
        return "reuseport-serve-" + group.localAddress().getPort();
    }

    private static Serving start(Serving s) throws IOException {
        s.group.attach(s.lending);
        return s;
    }

    private Member member(Worker w) {
        return members.computeIfAbsent(w, WorkerMember::new);
    }

    /**
     * The slots whose worker is served now (each by a loop that accepts).
     *
     * @return the slot ids, ascending
     */
    public Set<Integer> servedSlots() {
        return engine.servedSlots();
    }

    /**
     * Event loops running now: one per served worker, plus loops of removed workers still draining.
     *
     * @return the count (each is a platform thread)
     */
    public int loops() {
        return engine.loops();
    }

    /**
     * Connections (TCP) or datagrams (UDP) whose handler returned or threw.
     *
     * @return the count since serving started
     */
    public long handled() {
        return engine.handled();
    }

    /**
     * Handlers that threw (each logged).
     *
     * @return the count since serving started
     */
    public long failures() {
        return engine.failures();
    }

    /**
     * Connections closed, or datagrams dropped, because the executor rejected them (each logged).
     *
     * @return the count since serving started
     */
    public long rejected() {
        return engine.rejected();
    }

    /**
     * Handlers still running when their loop's drain time ran out: their connection was closed and their
     * thread interrupted (each logged).
     *
     * @return the count since serving started
     */
    public long abandoned() {
        return engine.abandoned();
    }

    /**
     * How the loops receive, for a capability report: UDP groups are read with batched recvmmsg(2) (up to
     * 16 datagrams per call), and with {@link IngestOptions#udpGro(boolean)} on, coalesced GRO buffers (8
     * per call) are split into their segments, each handed to the handler as its own datagram with its
     * sender; TCP groups accept in non-blocking batches.
     *
     * @return one line, e.g. {@code epoll, recvmmsg, up to 16 datagrams per call}
     */
    public String receivePath() {
        return engine.receivePath();
    }

    /**
     * recvmmsg(2) calls the loops alive now have made (UDP; 0 for TCP).
     *
     * @return the count
     */
    public long receiveCalls() {
        return engine.receiveCalls();
    }

    /**
     * Whether serving stopped ({@link #close()} was called, or every loop ended with the group).
     *
     * @return true once stopped
     */
    public boolean isStopped() {
        return engine.isStopped() || (group.isClosed() && engine.loops() == 0);
    }

    /**
     * Waits until every loop ended (after the group closed or was handed off, and the drain time passed).
     *
     * @param timeout how long to wait at most
     * @return true when all loops ended in time
     * @throws InterruptedException when interrupted while waiting
     */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return engine.await(timeout.toNanos());
    }

    /**
     * Stops serving: the sockets go back to the group (which stays open), connections in flight get the
     * drain time to finish, then are closed. Waits for the loops to end. Idempotent.
     *
     * @throws IOException never in practice; declared for {@link AutoCloseable}
     */
    @Override
    public void close() throws IOException {
        group.detach(lending);
        try {
            engine.stop(drain.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "Serving[" + group + ", slots " + servedSlots() + ", handled " + handled() + ", failures "
                + failures() + "]";
    }

    /** The group's view of the engine: the lending callbacks, forwarded. */
    private final class Lending implements SocketListener {
        @Override
        public void joined(Worker worker, int fd) throws IOException {
            engine.joined(member(worker), fd);
        }

        @Override
        public void leaving(Worker worker, int fd) {
            engine.leaving(member(worker), fd);
        }

        @Override
        public void handedOver(Worker heir, Connection connection) {
            engine.handedOver(member(heir), connection.detach());
        }

        @Override
        public void handedOver(Worker heir, byte[] datagram, InetSocketAddress sender) {
            engine.handedOver(member(heir), datagram, sender);
        }

        @Override
        public String toString() {
            return "Serving(event loops)";
        }
    }

    /** A worker as the engine sees it. */
    private static final class WorkerMember implements Member {
        private final Worker w;

        WorkerMember(Worker w) {
            this.w = w;
        }

        @Override
        public int slot() {
            return w.slot();
        }

        @Override
        public void recordAccepted() {
            w.recordAccepted();
        }

        @Override
        public void recordReceived() {
            w.recordReceived();
        }

        @Override
        public void recordLatency(long nanos) {
            w.recordLatency(nanos);
        }

        @Override
        public boolean send(ByteBuffer datagram, InetSocketAddress target) throws IOException {
            return w.send(datagram, target);
        }
    }
}
