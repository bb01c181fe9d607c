package dev.reuseport.examples.bench.harness;

import dev.reuseport.netty.NettyReuseport;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.handler.codec.quic.InsecureQuicTokenHandler;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import javax.net.ssl.KeyManagerFactory;

/**
 * {@code bench quic}'s QUIC pieces: a self-signed server context, an echo server codec, long-lived clients
 * opening a checked stream every period, and a NAT relay that moves each client to a new source port.
 */
public final class QuicLoad {
    /** The application protocol both sides offer. */
    public static final String ALPN = "reuseport-echo";
    /** Bytes per stream, each way. */
    public static final int PAYLOAD = 16;
    /**
     * Connection ids each side keeps issued to the other. quiche moves a connection to a new peer address
     * only with a spare id of the peer's: at QUIC's default of 2 the second rebinding of a connection
     * stalls it (measured: every connection's streams time out after its second rebinding).
     */
    public static final long CID_LIMIT = 8;
    private static final char[] PASSWORD = "changeit".toCharArray();

    private QuicLoad() {
    }

    /** A server SSL context with a fresh self-signed EC certificate (made by the JDK's keytool). */
    /**
     * A server context with a fresh self-signed certificate.
     *
     * @return the context
     * @throws Exception when keytool or the key store fails
     */
    public static QuicSslContext serverSsl() throws Exception {
        Path dir = Files.createTempDirectory("quic-cert");
        Path store = dir.resolve("server.p12");
        try {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                    "-genkeypair", "-alias", "quic", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                    "CN=localhost", "-validity", "2", "-keystore", store.toString(), "-storetype", "PKCS12",
                    "-storepass", new String(PASSWORD), "-keypass", new String(PASSWORD))
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("keytool failed: " + out);
            }
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                ks.load(in, PASSWORD);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, PASSWORD);
            return QuicSslContextBuilder.forServer(kmf, new String(PASSWORD)).applicationProtocols(ALPN).build();
        } finally {
            Files.deleteIfExists(store);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * A client context trusting any certificate.
     *
     * @return the context
     */
    public static QuicSslContext clientSsl() {
        return QuicSslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocols(ALPN).build();
    }

    /** Echo streams; counts connections and streams per worker slot. */
    @ChannelHandler.Sharable
    public static final class Echo extends ChannelInboundHandlerAdapter {
        /** Connections per worker slot. */
        public final AtomicLongArray connections = new AtomicLongArray(256);
        /** Streams per worker slot. */
        public final AtomicLongArray streams = new AtomicLongArray(256);

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (ctx.channel() instanceof QuicStreamChannel) {
                streams.incrementAndGet(NettyReuseport.worker(ctx.channel()).slot());
            }
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                ((QuicStreamChannel) ctx.channel()).shutdownOutput();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        /** The connection-level handler: counts each connection on its worker. */
        ChannelHandler connectionCounter() {
            return new Counter();
        }

        @ChannelHandler.Sharable
        private final class Counter extends ChannelInboundHandlerAdapter {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                connections.incrementAndGet(NettyReuseport.worker(ctx.channel()).slot());
                ctx.fireChannelActive();
            }

        }
    }

    /**
     * The echo server codec settings.
     *
     * @param ssl  the server context
     * @param echo the stream handler
     * @return the builder
     */
    public static QuicServerCodecBuilder serverCodec(QuicSslContext ssl, Echo echo) {
        return new QuicServerCodecBuilder().sslContext(ssl).maxIdleTimeout(10, TimeUnit.SECONDS)
                .initialMaxData(10_000_000).initialMaxStreamDataBidirectionalLocal(1_000_000)
                .initialMaxStreamDataBidirectionalRemote(1_000_000).initialMaxStreamsBidirectional(100_000)
                .activeConnectionIdLimit(CID_LIMIT)
                .tokenHandler(InsecureQuicTokenHandler.INSTANCE).handler(echo.connectionCounter())
                .streamOption(ChannelOption.ALLOW_HALF_CLOSURE, true).streamHandler(echo);
    }

    /**
     * Long-lived client connections, each on its own UDP socket, each opening a stream every {@code period}
     * whose 16-byte echo must come back intact within {@code timeout}.
     */
    public static final class Clients implements AutoCloseable {
        /** Streams echoed intact in time. */
        public final AtomicLong ok = new AtomicLong();
        /** Streams that failed. */
        public final AtomicLong failed = new AtomicLong();
        /** Of {@link #failed}: no echo within the timeout; the rest failed to open or were closed or reset. */
        public final AtomicLong timedOut = new AtomicLong();
        /** The connections. */
        public final List<Conn> conns = new ArrayList<>();
        private final long periodMillis;
        private final long timeoutMillis;
        private volatile boolean stopped;

        /**
         * Clients.
         *
         * @param periodMillis  between streams of one connection
         * @param timeoutMillis for each echo
         */
        public Clients(long periodMillis, long timeoutMillis) {
            this.periodMillis = periodMillis;
            this.timeoutMillis = timeoutMillis;
        }

        /** Connects {@code n} connections to {@code target} (each within 5 s) without starting streams. */
        /**
         * Connects.
         *
         * @param loops  client loops
         * @param target server or relay
         * @param n      connections
         * @throws Exception when one cannot connect in 5 s
         */
        public void connect(EventLoopGroup loops, InetSocketAddress target, int n) throws Exception {
            QuicSslContext ssl = clientSsl();
            List<Channel> udps = new ArrayList<>();
            List<io.netty.util.concurrent.Future<QuicChannel>> handshakes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ChannelHandler codec = new QuicClientCodecBuilder().sslContext(ssl).maxIdleTimeout(10, TimeUnit.SECONDS)
                        .initialMaxData(10_000_000).initialMaxStreamDataBidirectionalLocal(1_000_000)
                        .initialMaxStreamDataBidirectionalRemote(1_000_000).activeConnectionIdLimit(CID_LIMIT).build();
                Channel udp = new Bootstrap().group(loops).channel(EpollDatagramChannel.class).handler(codec)
                        .bind(new InetSocketAddress(target.getAddress(), 0)).sync().channel();
                udps.add(udp);
                handshakes.add(QuicChannel.newBootstrap(udp).handler(new Quiet()).remoteAddress(target).connect());
            }
            for (int i = 0; i < n; i++) { // all handshakes at once, each within 5 s
                conns.add(new Conn(i, udps.get(i), handshakes.get(i).get(5, TimeUnit.SECONDS)));
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

        /** Connections with a failed stream, or closed before the end. */
        /**
         * Broken connections.
         *
         * @return connections with a failed stream or closed
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

        /** {@link #broken()} as it was when {@link #close()} began; -1 before. */
        public volatile long brokenAtClose = -1;

        @Override
        public void close() {
            if (!stopped) {
                brokenAtClose = broken();
            }
            stopped = true;
            List<io.netty.channel.ChannelFuture> closing = new ArrayList<>();
            for (Conn c : conns) {
                closing.add(c.quic.close());
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1); // a broken connection cannot say goodbye
            for (io.netty.channel.ChannelFuture f : closing) {
                f.awaitUninterruptibly(Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
            }
            for (Conn c : conns) {
                c.udp.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
            }
        }

        /** One connection. */
        public final class Conn {
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
                byte[] want = ByteBuffer.allocate(PAYLOAD).putLong(id).putLong(seq++).array();
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
                private final ByteBuf got = Unpooled.buffer(PAYLOAD);
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
                        Clients.this.failed.incrementAndGet();
                    }
                    if (stream != null) {
                        stream.close();
                    }
                }
            }
        }
    }

    /**
     * A UDP relay between clients and a server that moves each client to a new source port (a new upstream
     * socket) every {@code rebindMillis}, as a NAT rebinding does; one thread, bounded by {@code maxMillis}.
     */
    public static final class NatRelay implements AutoCloseable {
        /** Rebinds done. */
        public final AtomicLong rebinds = new AtomicLong();
        /** Server packets that came to a client's earlier upstream socket (its old address). */
        public final AtomicLong viaOld = new AtomicLong();
        private final InetSocketAddress server;
        private final DatagramChannel front;
        private final Selector selector;
        private final long rebindNanos;
        private final Map<SocketAddress, DatagramChannel> upstream = new HashMap<>();
        private final List<DatagramChannel> retired = new ArrayList<>();
        private final Thread thread;
        private volatile boolean stop;
        /** When the next rebind is due; none before {@link #startRebinding()} (handshakes complete first). */
        private volatile long nextRebind = Long.MAX_VALUE;

        /**
         * A relay.
         *
         * @param server       where to relay to
         * @param rebindMillis between rebinds
         * @param maxMillis    lifetime bound
         * @throws IOException when a socket cannot open
         */
        public NatRelay(InetSocketAddress server, long rebindMillis, long maxMillis) throws IOException {
            this.server = server;
            this.rebindNanos = TimeUnit.MILLISECONDS.toNanos(rebindMillis);
            this.selector = Selector.open();
            this.front = DatagramChannel.open().bind(new InetSocketAddress(server.getAddress(), 0));
            front.configureBlocking(false);
            front.register(selector, SelectionKey.OP_READ, null);
            this.thread = new Thread(() -> run(TimeUnit.MILLISECONDS.toNanos(maxMillis)), "nat-relay");
            thread.setDaemon(true);
            thread.start();
        }

        /** Starts moving the clients, one move every period from now (after their handshakes). */
        public void startRebinding() {
            nextRebind = System.nanoTime() + rebindNanos;
        }

        /**
         * Where clients send.
         *
         * @return the relay address
         * @throws IOException when it cannot be read
         */
        public InetSocketAddress address() throws IOException {
            return (InetSocketAddress) front.getLocalAddress();
        }

        private DatagramChannel open(SocketAddress client) throws IOException {
            DatagramChannel up = DatagramChannel.open().bind(new InetSocketAddress(server.getAddress(), 0));
            up.configureBlocking(false);
            up.register(selector, SelectionKey.OP_READ, client);
            DatagramChannel old = upstream.put(client, up);
            if (old != null) {
                retired.add(old);
            }
            return up;
        }

        private void run(long maxNanos) {
            ByteBuffer buf = ByteBuffer.allocateDirect(65536);
            long start = System.nanoTime();
            try {
                while (!stop && System.nanoTime() - start < maxNanos) {
                    selector.select(10);
                    for (SelectionKey k : selector.selectedKeys()) {
                        DatagramChannel ch = (DatagramChannel) k.channel();
                        SocketAddress from;
                        while (ch.isOpen() && (from = ch.receive(buf.clear())) != null) {
                            buf.flip();
                            if (ch == front) {
                                DatagramChannel up = upstream.get(from);
                                (up == null ? open(from) : up).send(buf, server);
                            } else {
                                if (upstream.get(k.attachment()) != ch) {
                                    viaOld.incrementAndGet();
                                }
                                front.send(buf, (SocketAddress) k.attachment());
                            }
                        }
                    }
                    selector.selectedKeys().clear();
                    if (System.nanoTime() >= nextRebind) {
                        nextRebind = nextRebind + rebindNanos;
                        for (DatagramChannel r : retired) {
                            r.close();
                        }
                        retired.clear();
                        for (SocketAddress c : new ArrayList<>(upstream.keySet())) {
                            open(c);
                        }
                        rebinds.incrementAndGet();
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } finally {
                closeAll();
            }
        }

        private void closeAll() {
            try {
                for (DatagramChannel c : upstream.values()) {
                    c.close();
                }
                for (DatagramChannel c : retired) {
                    c.close();
                }
                front.close();
                selector.close();
            } catch (IOException ignored) {
                // closing: nothing left to do
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(5_000);
        }
    }
}
