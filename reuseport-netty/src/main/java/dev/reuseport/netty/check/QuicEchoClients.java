package dev.reuseport.netty.check;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Long-lived QUIC client connections for checking a {@link QuicEcho} server: each on its own UDP socket
 * (epoll), each opening a bidirectional stream every period whose {@value QuicEcho#PAYLOAD}-byte echo must
 * come back intact within a timeout. A connection with a failed stream, or closed before the end, is
 * broken. Connect with {@link #connect} (handshakes awaited), or {@link #begin} and later {@link #finish}
 * (handshakes left in flight meanwhile); then {@link #start()} the streams.
 */
public final class QuicEchoClients implements AutoCloseable {
    /** Streams echoed intact in time. */
    public final AtomicLong ok = new AtomicLong();
    /** Streams that failed (no echo in time, a wrong echo, or not opened, closed or reset). */
    public final AtomicLong failed = new AtomicLong();
    /** Of {@link #failed}: no echo within the timeout. */
    public final AtomicLong timedOut = new AtomicLong();
    /** {@link #broken()} as it was when {@link #close()} began; -1 before. */
    public volatile long brokenAtClose = -1;
    private final List<Conn> conns = new ArrayList<>();
    private final List<Channel> pendingUdp = new ArrayList<>();
    private final List<Future<QuicChannel>> pending = new ArrayList<>();
    private final long periodMillis;
    private final long timeoutMillis;
    private final long idleSeconds;
    private volatile boolean stopped;

    /**
     * Clients whose connections time out after 10 s idle.
     *
     * @param periodMillis  between the streams of one connection
     * @param timeoutMillis for each echo
     */
    public QuicEchoClients(long periodMillis, long timeoutMillis) {
        this(periodMillis, timeoutMillis, 10);
    }

    /**
     * Clients.
     *
     * @param periodMillis  between the streams of one connection, 1 or more
     * @param timeoutMillis for each echo, 1 or more
     * @param idleSeconds   the connections' idle timeout, which bounds a handshake too, 1 or more
     * @throws IllegalArgumentException when a value is below 1
     */
    public QuicEchoClients(long periodMillis, long timeoutMillis, long idleSeconds) {
        if (periodMillis < 1 || timeoutMillis < 1 || idleSeconds < 1) {
            throw new IllegalArgumentException("period " + periodMillis + " ms, timeout " + timeoutMillis + " ms, idle "
                    + idleSeconds + " s; accepted: 1 or more each");
        }
        this.periodMillis = periodMillis;
        this.timeoutMillis = timeoutMillis;
        this.idleSeconds = idleSeconds;
    }

    /**
     * Connects {@code n} connections to {@code target}, all handshakes at once, each within the idle timeout
     * (10 s by default: a loaded machine starting server JVMs once took more than 5 s); no streams yet.
     *
     * @param loops  the client event loops (epoll)
     * @param target the server (or a relay)
     * @param n      connections
     * @throws Exception when a socket cannot bind or a handshake does not complete in time
     */
    public void connect(EventLoopGroup loops, InetSocketAddress target, int n) throws Exception {
        begin(loops, target, n);
        finish(idleSeconds);
    }

    /**
     * Starts {@code n} handshakes to {@code target} and returns at once (they go on in the event loops).
     *
     * @param loops  the client event loops (epoll)
     * @param target the server (or a relay)
     * @param n      connections
     * @throws Exception when a socket cannot bind
     */
    public void begin(EventLoopGroup loops, InetSocketAddress target, int n) throws Exception {
        QuicSslContext ssl = QuicEcho.clientSsl();
        for (int i = 0; i < n; i++) {
            ChannelHandler codec = new QuicClientCodecBuilder().sslContext(ssl)
                    .maxIdleTimeout(idleSeconds, TimeUnit.SECONDS).initialMaxData(10_000_000)
                    .initialMaxStreamDataBidirectionalLocal(1_000_000).initialMaxStreamDataBidirectionalRemote(1_000_000)
                    .activeConnectionIdLimit(QuicEcho.CID_LIMIT).build();
            Channel udp = new Bootstrap().group(loops).channel(EpollDatagramChannel.class).handler(codec)
                    .bind(new InetSocketAddress(target.getAddress(), 0)).sync().channel();
            pendingUdp.add(udp);
            pending.add(QuicChannel.newBootstrap(udp).handler(new Quiet()).remoteAddress(target).connect());
        }
    }

    /**
     * Waits for the handshakes {@link #begin} started, each within {@code seconds}, and keeps their connections.
     *
     * @param seconds how long each may still take
     * @throws Exception when one fails or does not complete in time (its socket is closed by {@link #close()})
     */
    public void finish(long seconds) throws Exception {
        try {
            for (int i = 0; i < pending.size(); i++) {
                conns.add(new Conn(conns.size(), pendingUdp.get(i), pending.get(i).get(seconds, TimeUnit.SECONDS)));
            }
        } finally {
            for (int i = conns.size(); i < pendingUdp.size(); i++) {
                pendingUdp.get(i).close();
            }
            pending.clear();
            pendingUdp.clear();
        }
    }

    /** Starts every connection's streams. */
    public void start() {
        for (Conn c : conns) {
            c.quic.eventLoop().execute(c::tick);
        }
    }

    /** A client connection's handler: a transport error (the baselines cause them) closes it, quietly. */
    private static final class Quiet extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * Broken connections.
     *
     * @return connections with a failed stream, or closed
     */
    public long broken() {
        return conns.stream().filter(c -> c.failed.get() > 0 || !c.quic.isActive()).count();
    }

    /**
     * Connections made.
     *
     * @return the count
     */
    public long connected() {
        return conns.size();
    }

    /**
     * Stops the streams and closes every connection, waiting at most a second in all for the goodbyes of those
     * without a failed stream.
     */
    @Override
    public void close() {
        if (!stopped) {
            brokenAtClose = broken();
        }
        stopped = true;
        for (Channel u : pendingUdp) {
            u.close();
        }
        List<io.netty.channel.ChannelFuture> closing = new ArrayList<>();
        for (Conn c : conns) {
            io.netty.channel.ChannelFuture f = c.quic.close();
            if (c.failed.get() == 0) { // a broken one has no peer to say goodbye to: not waited for
                closing.add(f);
            }
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (io.netty.channel.ChannelFuture f : closing) {
            f.awaitUninterruptibly(Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
        }
        for (Conn c : conns) {
            c.udp.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        }
    }

    /** One connection. */
    private final class Conn {
        final int id;
        final Channel udp;
        final QuicChannel quic;
        final AtomicLong failed = new AtomicLong();
        private long seq;

        Conn(int id, Channel udp, QuicChannel quic) {
            this.id = id;
            this.udp = udp;
            this.quic = quic;
        }

        void tick() {
            if (stopped) {
                return;
            }
            EventLoop loop = quic.eventLoop();
            loop.schedule(this::tick, periodMillis, TimeUnit.MILLISECONDS);
            byte[] want = ByteBuffer.allocate(QuicEcho.PAYLOAD).putLong(id).putLong(seq++).array();
            StreamCheck check = new StreamCheck(want);
            check.timeout = loop.schedule(check::timedOut, timeoutMillis, TimeUnit.MILLISECONDS);
            quic.createStream(QuicStreamType.BIDIRECTIONAL, check).addListener(f -> {
                if (!f.isSuccess()) {
                    check.done(false, null);
                    return;
                }
                QuicStreamChannel s = (QuicStreamChannel) f.getNow();
                s.writeAndFlush(Unpooled.wrappedBuffer(want)).addListener(QuicStreamChannel.SHUTDOWN_OUTPUT);
            });
        }

        /** One stream's echo: complete, intact, in time. */
        final class StreamCheck extends ChannelInboundHandlerAdapter {
            private final byte[] want;
            private final ByteBuf got = Unpooled.buffer(QuicEcho.PAYLOAD);
            private boolean finished;
            ScheduledFuture<?> timeout;

            StreamCheck(byte[] want) {
                this.want = want;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                got.writeBytes(b);
                b.release();
                if (got.readableBytes() >= want.length) {
                    byte[] a = new byte[got.readableBytes()];
                    got.getBytes(0, a);
                    done(Arrays.equals(a, want), ctx.channel());
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                done(false, null);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                done(false, ctx.channel());
            }

            void timedOut() {
                if (!finished && !stopped) {
                    timedOut.incrementAndGet();
                }
                done(false, null);
            }

            void done(boolean good, Channel stream) {
                if (finished || stopped && !good) {
                    return;
                }
                finished = true;
                if (timeout != null) {
                    timeout.cancel(false);
                }
                if (good) {
                    ok.incrementAndGet();
                } else {
                    failed.incrementAndGet();
                    QuicEchoClients.this.failed.incrementAndGet();
                }
                if (stream != null) {
                    stream.close();
                }
            }
        }
    }
}
