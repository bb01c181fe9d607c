package dev.reuseport.netty;

import dev.reuseport.Connection;
import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.SocketListener;
import dev.reuseport.Worker;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Netty's epoll transport serving a {@link ReuseportGroup}: each worker's socket is wrapped, as it is, in
 * an {@link EpollServerSocketChannel} (TCP) or {@link EpollDatagramChannel} (UDP) registered on one event
 * loop, with your handler. It opens nothing itself: the group keeps owning the sockets, so steering,
 * per-worker metrics, {@link ReuseportGroup#fallback fallback}, restarts, resizes and removals all work
 * while Netty does the I/O.
 *
 * <pre>{@code
 * EventLoopGroup loops = new MultiThreadIoEventLoopGroup(8, EpollIoHandler.newFactory());
 * try (ReuseportGroup group = ReuseportGroup.tcp().port(8080).workers(8).policy(Policy.consistent()).open();
 *      NettyReuseport netty = NettyReuseport.serve(group, loops, loops, new ChannelInitializer<>() {
 *          protected void initChannel(Channel ch) { ch.pipeline().addLast(new EchoHandler()); }
 *      })) {
 *     group.restart();   // zero loss: Netty serves the new sockets before the old ones leave
 * }
 * loops.shutdownGracefully();
 * }</pre>
 *
 * <p><b>Loops.</b> Slot {@code s} is served by the {@code s mod n}-th loop of the group you pass, so
 * each worker has one loop and, with at least as many loops as workers, each loop one worker. When the
 * same group is passed as {@code bossLoops} and {@code childLoops}, a connection stays on the loop of the
 * worker that accepted it; otherwise it goes to {@code childLoops.next()}.
 *
 * <p><b>Membership changes</b> (this adapter is the group's {@link SocketListener}): a new socket
 * (restart, {@code replaceWorker}, {@code addWorker}, {@code resize}) gets its channel, registered, before
 * the old one leaves; a leaving socket's channel is closed, and its descriptor with it, before the group
 * lets the kernel migrate (TCP with the select-or-migrate program) or drains its queue. What the group
 * drains reaches Netty too: connections become {@link EpollSocketChannel}s with your child handler on the
 * heir's loop; datagrams go through the heir's datagram pipeline as if read there. Connections already
 * accepted are not touched by any of this, nor by {@link #close()}: they finish on their own.
 *
 * <p><b>Counting.</b> Every connection accepted and every datagram read or written here is counted on its
 * worker ({@link Worker#recordAccepted()} and friends), so {@link ReuseportGroup#stats()}, the metrics
 * sampler and the controller see Netty's traffic. {@link #worker(Channel)} gives a handler its worker
 * (for {@link Worker#recordLatency(long)}).
 *
 * <p>Do not call the group's membership or policy methods from an event loop that serves it: the
 * group waits, holding its lock, for each loop to close a leaving channel (at most
 * {@value #LEAVE_TIMEOUT_MILLIS} ms each).
 */
public final class NettyReuseport implements AutoCloseable {
    /** The worker whose socket a channel came from (set on server, datagram and accepted channels). */
    public static final AttributeKey<Worker> WORKER = AttributeKey.valueOf(NettyReuseport.class, "worker");

    /** How long a leaving socket's channel may take to close on its loop (and a new one to register). */
    public static final long LEAVE_TIMEOUT_MILLIS = 5_000;

    /**
     * Forward mode ({@link GroupServerChannel}): once the last worker's channel left (a hand-off, a close),
     * how long the group waits at most for the framework to read from every connection it was given.
     */
    public static final long SETTLE_TIMEOUT_MILLIS = 5_000;

    private static final System.Logger LOG = System.getLogger("dev.reuseport.netty");

    private final ReuseportGroup group;
    private final Protocol protocol;
    private final List<EventLoop> loops;
    /** Where accepted connections go; null: the accepting worker's own loop. */
    private final EventLoopGroup childLoops;
    private final ChannelHandler handler;
    /**
     * Forward mode ({@link GroupServerChannel}): the framework's server channel whose pipeline gets every
     * accepted (and handed-over) connection, unregistered, as a server channel's read; null otherwise.
     */
    private final Channel acceptor;
    /** Live channels by slot (during a swap the new one replaces the old before the old closes). */
    private final Map<Integer, Channel> bySlot = new ConcurrentHashMap<>();
    /** Live channels by the descriptor the group lent (the key {@link SocketListener#leaving} names). */
    private final Map<Integer, Channel> byFd = new ConcurrentHashMap<>();
    private final Listener listener = new Listener();
    private final AtomicBoolean closed = new AtomicBoolean();
    /**
     * Forward mode: the connections given to {@link #acceptor} that the framework has not read from yet
     * (see {@link Settle}); a framework's graceful shutdown would close them.
     */
    private final Set<Channel> unsettled = ConcurrentHashMap.newKeySet();

    private NettyReuseport(ReuseportGroup group, List<EventLoop> loops, EventLoopGroup childLoops,
                           ChannelHandler handler) {
        this(group, loops, childLoops, handler, null);
    }

    private NettyReuseport(ReuseportGroup group, List<EventLoop> loops, EventLoopGroup childLoops,
                           ChannelHandler handler, Channel acceptor) {
        this.group = group;
        this.protocol = group.protocol();
        this.loops = loops;
        this.childLoops = childLoops;
        this.handler = handler;
        this.acceptor = acceptor;
    }

    /**
     * Forward mode, for {@link GroupServerChannel}: each worker's listener becomes an
     * {@link EpollServerSocketChannel} on its loop of {@code loops}, as in {@link #serve}, but what it
     * accepts (and what the group hands over) goes, unregistered, to {@code acceptor}'s pipeline as
     * {@code channelRead(child)}, where a framework's bootstrap registers it and gives it its handlers.
     */
    static NettyReuseport serveInto(ReuseportGroup group, EventLoopGroup loops, Channel acceptor) throws IOException {
        requireGroup(group, Protocol.TCP, "serveInto", "serveDatagrams");
        List<EventLoop> ls = epollLoops(loops, "loops", group);
        return start(new NettyReuseport(group, ls, null, null, acceptor));
    }

    /**
     * Serves a TCP group: each worker's listener becomes an {@link EpollServerSocketChannel} on its loop
     * of {@code bossLoops}; accepted connections get {@code childHandler} (a {@link ChannelInitializer}
     * or another {@code @Sharable} handler) on the same loop when {@code childLoops == bossLoops}, else on
     * {@code childLoops.next()}. Set child options in the initializer ({@code ch.config().setOption}).
     *
     * @param group        an open TCP group
     * @param bossLoops    epoll loops, at least one per worker: slot {@code s} is served by loop
     *                     {@code s % n}
     * @param childLoops   where accepted connections run: {@code bossLoops} to keep each on the loop that
     *                     accepted it, or other epoll loops
     * @param childHandler what each accepted connection's pipeline gets
     * @return the adapter, serving; close it to give the sockets back to the group
     * @throws IllegalArgumentException a null argument, a UDP group, a loop that is not an epoll loop, fewer
     *                                  boss loops than workers, or a handler that cannot be shared
     * @throws IllegalStateException    Netty's native epoll transport is not available here, or the group
     *                                  already has a socket listener
     * @throws IOException              the group is closed, or a channel could not be registered (nothing is
     *                                  left registered then)
     */
    public static NettyReuseport serve(ReuseportGroup group, EventLoopGroup bossLoops, EventLoopGroup childLoops,
                                       ChannelHandler childHandler) throws IOException {
        requireGroup(group, Protocol.TCP, "serve", "serveDatagrams");
        List<EventLoop> loops = epollLoops(bossLoops, "bossLoops", group);
        if (childLoops != bossLoops) {
            epollLoops(childLoops, "childLoops", null);
        }
        requireSharable(childHandler, "childHandler");
        return start(new NettyReuseport(group, loops, childLoops == bossLoops ? null : childLoops, childHandler));
    }

    /**
     * Serves a UDP group: each worker's socket becomes an {@link EpollDatagramChannel} on its loop of
     * {@code loops}, with {@code handler} (a {@link ChannelInitializer} or another {@code @Sharable}
     * handler) in its pipeline; it reads {@link DatagramPacket}s and answers by writing them.
     *
     * @param group   an open UDP group
     * @param loops   epoll loops, at least one per worker: slot {@code s} is served by loop {@code s % n}
     * @param handler what each worker's datagram channel's pipeline gets
     * @return the adapter, serving; close it to give the sockets back to the group
     * @throws IllegalArgumentException a null argument, a TCP group, a loop that is not an epoll loop, fewer
     *                                  loops than workers, or a handler that cannot be shared
     * @throws IllegalStateException    Netty's native epoll transport is not available here, or the group
     *                                  already has a socket listener
     * @throws IOException              the group is closed, or a channel could not be registered
     */
    public static NettyReuseport serveDatagrams(ReuseportGroup group, EventLoopGroup loops, ChannelHandler handler)
            throws IOException {
        requireGroup(group, Protocol.UDP, "serveDatagrams", "serve");
        List<EventLoop> ls = epollLoops(loops, "loops", group);
        requireSharable(handler, "handler");
        return start(new NettyReuseport(group, ls, null, handler));
    }

    private static NettyReuseport start(NettyReuseport n) throws IOException {
        n.group.attach(n.listener);
        return n;
    }

    private static void requireGroup(ReuseportGroup group, Protocol wanted, String method, String other) {
        if (group == null) {
            throw new IllegalArgumentException("group null is not a group; accepted: an open " + wanted
                    + " ReuseportGroup");
        }
        if (group.protocol() != wanted) {
            throw new IllegalArgumentException("group " + group + " is " + group.protocol() + "; accepted by "
                    + method + ": a " + wanted + " group (use " + other + " for " + group.protocol() + ")");
        }
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("Netty's native epoll transport is unavailable here ("
                    + Epoll.unavailabilityCause() + "); accepted: Linux with netty-transport-native-epoll for this "
                    + "platform on the class path", Epoll.unavailabilityCause());
        }
    }

    /** The loops of {@code g}, each checked to be an epoll loop; with {@code group}, at least one per worker. */
    private static List<EventLoop> epollLoops(EventLoopGroup g, String name, ReuseportGroup group) {
        if (g == null) {
            throw new IllegalArgumentException(name + " null is not an event loop group; accepted: "
                    + "new MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory())");
        }
        List<EventLoop> out = new ArrayList<>();
        for (EventExecutor e : g) {
            if (!(e instanceof IoEventLoop l) || !l.isCompatible(EpollIoHandle.class)) {
                throw new IllegalArgumentException(name + " has event loop " + e + ", which is not an epoll loop; "
                        + "accepted: loops of new MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory())");
            }
            out.add(l);
        }
        if (g.isShuttingDown()) {
            throw new IllegalArgumentException(name + " " + g + " is shutting down; accepted: a running group");
        }
        if (group != null && out.size() < group.workers().size()) {
            throw new IllegalArgumentException(name + " has " + out.size() + " event loops but " + group + " has "
                    + group.workers().size() + " workers; accepted: at least one loop per worker ("
                    + group.workers().size() + " or more)");
        }
        return List.copyOf(out);
    }

    private static void requireSharable(ChannelHandler h, String name) {
        if (h == null) {
            throw new IllegalArgumentException(name + " null is not a handler; accepted: a ChannelInitializer or a "
                    + "@Sharable ChannelHandler");
        }
        if (h instanceof ChannelHandlerAdapter a && !a.isSharable()) {
            throw new IllegalArgumentException(name + " " + h.getClass().getName() + " is not @Sharable, but every "
                    + "worker's channel (and every restart's) adds it; accepted: a ChannelInitializer or a "
                    + "@Sharable ChannelHandler");
        }
    }

    /**
     * The worker whose socket {@code channel} (or its parent, for an accepted connection) came from.
     *
     * @param channel a channel this adapter made, or a connection one of them accepted
     * @return the worker, or null for a channel that is neither
     */
    public static Worker worker(Channel channel) {
        for (Channel c = channel; c != null; c = c.parent()) {
            Worker w = c.attr(WORKER).get();
            if (w != null) {
                return w;
            }
        }
        return null;
    }

    /**
     * The group served.
     *
     * @return the group given to {@code serve} or {@code serveDatagrams}
     */
    public ReuseportGroup group() {
        return group;
    }

    /**
     * The channel serving each live slot now.
     *
     * @return a snapshot, by slot in ascending order
     */
    public Map<Integer, Channel> channels() {
        return java.util.Collections.unmodifiableMap(new TreeMap<>(bySlot));
    }

    /**
     * The channel serving a slot now.
     *
     * @param slot a worker's slot
     * @return its channel, or null when the slot is not live (or not served yet)
     */
    public Channel channel(int slot) {
        return bySlot.get(slot);
    }

    /**
     * The event loop that serves a slot, whether or not the slot is live.
     *
     * @param slot 0..{@link ReuseportGroup#MAX_WORKERS}-1
     * @return loop {@code slot % n} of the loops given
     * @throws IllegalArgumentException a slot out of range
     */
    public EventLoop loop(int slot) {
        if (slot < 0 || slot >= ReuseportGroup.MAX_WORKERS) {
            throw new IllegalArgumentException("slot " + slot + " is out of range; accepted: 0.."
                    + (ReuseportGroup.MAX_WORKERS - 1));
        }
        return loops.get(slot % loops.size());
    }

    /**
     * How the channels receive, for a capability report, read from a served channel's configuration: for
     * UDP, Netty's epoll recvmsg one datagram per call unless the pipeline set
     * {@code EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE} (then recvmmsg), and whether
     * {@code EpollChannelOption.UDP_GRO} is on; for TCP, epoll accept.
     *
     * @return one line, e.g. {@code netty epoll, recvmsg (one datagram per call), UDP GRO off}
     */
    public String receivePath() {
        if (protocol == Protocol.TCP) {
            return "netty epoll, accept";
        }
        for (Channel ch : bySlot.values()) {
            if (ch instanceof EpollDatagramChannel d) {
                int max = d.config().getMaxDatagramPayloadSize();
                return "netty epoll, " + (max > 0 ? "recvmmsg (datagrams up to " + max + " bytes)"
                        : "recvmsg (one datagram per call)") + ", UDP GRO " + (d.config().isUdpGro() ? "on" : "off");
            }
        }
        return "netty epoll, no channel served yet";
    }

    /**
     * Stops serving: every worker's channel is closed (and its descriptor with it) and the group takes its
     * sockets back ({@link ReuseportGroup#detach}); the group itself stays open, and connections already
     * accepted stay up. Idempotent. Closing the group first does the same.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            group.detach(listener);
        }
    }

    @Override
    public String toString() {
        return "NettyReuseport[" + group + ", " + bySlot.size() + " channels on " + loops.size() + " loops"
                + (closed.get() ? ", closed" : "") + "]";
    }

    // ------------------------------------------------------------------ the group's socket listener

    private final class Listener implements SocketListener {
        @Override
        public void joined(Worker worker, int fd) throws IOException {
            EventLoop loop = loop(worker.slot());
            Channel ch;
            try {
                ch = protocol == Protocol.TCP ? new EpollServerSocketChannel(fd) : new EpollDatagramChannel(fd);
            } catch (RuntimeException e) {
                closeQuietly(fd, e);
                throw new IOException("wrapping slot " + worker.slot() + "'s socket (fd " + fd + ") in a Netty "
                        + "channel failed: " + e, e);
            }
            ch.attr(WORKER).set(worker);
            ChannelFuture f;
            if (acceptor != null) {
                ch.pipeline().addLast(new AcceptCounter(worker), new Forward(acceptor, worker, unsettled));
                f = loop.register(ch);
            } else if (protocol == Protocol.TCP) {
                f = new ServerBootstrap().group(loop, childLoops == null ? loop : childLoops)
                        .channelFactory(() -> (EpollServerSocketChannel) ch)
                        .handler(new AcceptCounter(worker))
                        .childAttr(WORKER, worker)
                        .childHandler(handler)
                        .register();
            } else {
                f = new Bootstrap().group(loop)
                        .channelFactory(() -> (EpollDatagramChannel) ch)
                        .handler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel c) {
                                c.pipeline().addLast(new DatagramCounter(worker), handler);
                            }
                        })
                        .register();
            }
            if (!f.awaitUninterruptibly(LEAVE_TIMEOUT_MILLIS)) {
                // the loop is stuck: close the channel (and the descriptor) whenever it gets registered
                f.addListener(r -> {
                    if (ch.isRegistered()) {
                        ch.close();
                    } else {
                        ch.unsafe().closeForcibly();
                    }
                });
                throw new IOException("registering slot " + worker.slot() + "'s socket (fd " + fd + ") on " + loop
                        + " took more than " + LEAVE_TIMEOUT_MILLIS + " ms");
            }
            if (!f.isSuccess()) {
                // Netty closed the channel, and the descriptor with it, when the registration failed
                throw new IOException("registering slot " + worker.slot() + "'s socket (fd " + fd + ") on " + loop
                        + " failed: " + f.cause(), f.cause());
            }
            byFd.put(fd, ch);
            bySlot.put(worker.slot(), ch);
            LOG.log(System.Logger.Level.DEBUG, () -> "slot " + worker.slot() + " fd " + fd + " serves on " + loop);
        }

        @Override
        public void leaving(Worker worker, int fd) {
            Channel ch = byFd.remove(fd);
            if (ch == null) {
                return; // joined failed for it, and closed it then
            }
            bySlot.remove(worker.slot(), ch);
            closeChannel(ch, worker, fd);
            if (acceptor != null && byFd.isEmpty()) {
                awaitSettled();
            }
        }

        @Override
        public void handedOver(Worker heir, Connection connection) {
            int fd = connection.detach();
            EpollSocketChannel ch;
            try {
                ch = new EpollSocketChannel(fd);
            } catch (RuntimeException e) {
                closeQuietly(fd, e);
                LOG.log(System.Logger.Level.WARNING, "a connection handed over to slot " + heir.slot()
                        + " could not be wrapped (fd " + fd + "), closed: " + e);
                return;
            }
            ch.attr(WORKER).set(heir);
            heir.recordAccepted();
            if (acceptor != null) {
                forward(acceptor, ch, unsettled);
                return;
            }
            ch.pipeline().addLast(handler);
            EventLoop loop = childLoops == null ? loop(heir.slot()) : childLoops.next();
            loop.register(ch).addListener(r -> {
                if (!r.isSuccess()) {
                    LOG.log(System.Logger.Level.WARNING, "a connection handed over to slot " + heir.slot()
                            + " could not be registered, closed: " + r.cause());
                    ch.unsafe().closeForcibly();
                }
            });
        }

        @Override
        public void handedOver(Worker heir, byte[] datagram, InetSocketAddress sender) {
            Channel ch = bySlot.get(heir.slot());
            if (ch == null || !ch.isOpen()) {
                LOG.log(System.Logger.Level.WARNING, "a datagram from " + sender + " handed over to slot "
                        + heir.slot() + " has no channel to go to; dropped");
                return;
            }
            ch.eventLoop().execute(() -> {
                ch.pipeline().fireChannelRead(new DatagramPacket(Unpooled.wrappedBuffer(datagram),
                        (InetSocketAddress) ch.localAddress(), sender));
                ch.pipeline().fireChannelReadComplete();
            });
        }

        @Override
        public String toString() {
            return NettyReuseport.this.toString();
        }
    }

    /**
     * Forward mode, once no worker channel is left to accept (the group handed itself off, closed, or took
     * its sockets back): waits, at most {@value #SETTLE_TIMEOUT_MILLIS} ms, until the framework has read from
     * every connection it was given, or the connection closed. Until then such a connection is still on its
     * way (in the acceptor's queue, being registered on a framework loop) or idle in the framework's eyes,
     * and a graceful shutdown that follows (Vert.x's {@code server.shutdown} once the hand-off is done) would
     * close it, its request unread: a reset. Not on the acceptor's own loop, which the wait would stall.
     */
    private void awaitSettled() {
        if (unsettled.isEmpty() || acceptor.eventLoop().inEventLoop()) {
            return;
        }
        long start = System.nanoTime();
        long end = start + TimeUnit.MILLISECONDS.toNanos(SETTLE_TIMEOUT_MILLIS);
        int waitedFor = unsettled.size();
        synchronized (unsettled) {
            while (!unsettled.isEmpty()) {
                long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (left <= 0) {
                    LOG.log(System.Logger.Level.WARNING, unsettled.size() + " connection(s) given to " + acceptor
                            + " sent nothing the framework read within " + SETTLE_TIMEOUT_MILLIS + " ms after "
                            + group + "'s last socket left; a shutdown now closes them");
                    return;
                }
                try {
                    unsettled.wait(Math.min(left, 50));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "the framework read from the " + waitedFor + " connection(s) still "
                + "on their way when " + group + "'s last socket left, in " + (System.nanoTime() - start) / 1_000_000
                + " ms");
    }

    /**
     * Gives an accepted connection (unregistered) to the framework's server channel, as its read, and counts
     * it as unsettled until the framework read its first bytes or it closed ({@link Settle}).
     */
    private static void forward(Channel acceptor, Channel child, Set<Channel> unsettled) {
        Settle s = new Settle(unsettled);
        unsettled.add(child);
        child.closeFuture().addListener(f -> s.settled(child));
        child.pipeline().addFirst(s);
        acceptor.pipeline().fireChannelRead(child);
    }

    /**
     * First handler of a connection given to a framework: it settles when the framework's own handlers (put
     * behind it by the framework's initializer, on registration) have read its first bytes, and then leaves.
     */
    private static final class Settle extends ChannelInboundHandlerAdapter {
        private final Set<Channel> unsettled;

        Settle(Set<Channel> unsettled) {
            this.unsettled = unsettled;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.fireChannelRead(msg); // the framework reads it (an HTTP/1 request is in progress from here)
            settled(ctx.channel());
            if (ctx.pipeline().context(this) != null) {
                ctx.pipeline().remove(this);
            }
        }

        void settled(Channel child) {
            if (unsettled.remove(child) && unsettled.isEmpty()) {
                synchronized (unsettled) {
                    unsettled.notifyAll();
                }
            }
        }
    }

    /**
     * Closes a channel on its loop and waits (bounded) for its descriptor to be closed. If the loop is gone
     * (shut down before the group let go) the descriptor is closed here, once, through Netty's own object.
     */
    private static void closeChannel(Channel ch, Worker worker, int fd) {
        ChannelFuture f = ch.close();
        if (!ch.eventLoop().inEventLoop()) {
            f.awaitUninterruptibly(LEAVE_TIMEOUT_MILLIS);
        }
        if (!ch.isOpen()) {
            return;
        }
        if (ch.eventLoop().isShutdown() && ch instanceof UnixChannel e) {
            try {
                e.fd().close();
                return;
            } catch (IOException x) {
                LOG.log(System.Logger.Level.WARNING, "closing slot " + worker.slot() + "'s fd " + fd
                        + " after its loop stopped failed: " + x);
                return;
            }
        }
        LOG.log(System.Logger.Level.WARNING, "slot " + worker.slot() + "'s channel (fd " + fd + ") did not close "
                + "within " + LEAVE_TIMEOUT_MILLIS + " ms on " + ch.eventLoop() + (f.isDone() ? ": " + f.cause()
                : " (is the loop blocked?)") + "; it closes when the loop gets to it");
    }

    /** Closes a lent descriptor no channel took, through Netty's own wrapper (the library's calls are internal). */
    private static void closeQuietly(int fd, Throwable failure) {
        try {
            new io.netty.channel.unix.FileDescriptor(fd).close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    /** First handler of a worker's server channel: counts each accepted connection on the worker. */
    private static final class AcceptCounter extends ChannelInboundHandlerAdapter {
        private final Worker worker;

        AcceptCounter(Worker worker) {
            this.worker = worker;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            worker.recordAccepted();
            ctx.fireChannelRead(msg);
        }
    }

    /**
     * Last handler of a worker's server channel in forward mode: gives each accepted connection (an
     * unregistered {@link EpollSocketChannel}) to the framework's server channel, as if that had read it.
     */
    private static final class Forward extends ChannelInboundHandlerAdapter {
        private final Channel acceptor;
        private final Worker worker;
        private final Set<Channel> unsettled;

        Forward(Channel acceptor, Worker worker, Set<Channel> unsettled) {
            this.acceptor = acceptor;
            this.worker = worker;
            this.unsettled = unsettled;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Channel child) {
                child.attr(WORKER).set(worker);
                forward(acceptor, child, unsettled);
                return;
            }
            acceptor.pipeline().fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            acceptor.pipeline().fireChannelReadComplete();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // an accept failure (EMFILE and the like) on one worker: its channel goes on accepting
            LOG.log(System.Logger.Level.WARNING, "slot " + worker.slot() + " failed to accept: " + cause);
        }
    }

    /** First handler of a worker's datagram channel: counts datagrams in and out on the worker. */
    private static final class DatagramCounter extends ChannelDuplexHandler {
        private final Worker worker;

        DatagramCounter(Worker worker) {
            this.worker = worker;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof DatagramPacket) {
                worker.recordReceived();
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof DatagramPacket) {
                worker.recordSent();
            }
            ctx.write(msg, promise);
        }
    }
}
