package dev.reuseport.netty.check;

import dev.reuseport.netty.NettyReuseport;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.handler.codec.quic.InsecureQuicTokenHandler;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import javax.net.ssl.KeyManagerFactory;

/**
 * The server side of a QUIC echo check: a self-signed certificate (made by the JDK's {@code keytool}), the
 * contexts both sides use (ALPN {@value #ALPN}; the client trusts any certificate: for checks only), the
 * echo stream handler that counts connections and streams per worker slot, and the server codec settings
 * {@link QuicEchoClients} expect.
 */
public final class QuicEcho {
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

    private QuicEcho() {
    }

    /**
     * A server context with a fresh self-signed EC certificate for {@code CN=localhost}, valid 2 days.
     *
     * @return the context
     * @throws IOException when keytool fails or the key store cannot be read
     * @throws java.security.GeneralSecurityException when the key store's keys cannot be used
     * @throws InterruptedException when interrupted while keytool runs
     */
    public static QuicSslContext selfSignedServerSsl() throws IOException, java.security.GeneralSecurityException,
            InterruptedException {
        Path dir = Files.createTempDirectory("quic-cert");
        Path store = dir.resolve("server.p12");
        try {
            writeSelfSignedKeystore(store);
            return serverSsl(store);
        } finally {
            Files.deleteIfExists(store);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * A server context from a key store {@link #writeSelfSignedKeystore} wrote (processes can share one:
     * keytool takes a second or more).
     *
     * @param store the PKCS12 key store
     * @return the context
     * @throws IOException when the store cannot be read
     * @throws java.security.GeneralSecurityException when its keys cannot be used
     */
    public static QuicSslContext serverSsl(Path store) throws IOException, java.security.GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, PASSWORD);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, PASSWORD);
        return QuicSslContextBuilder.forServer(kmf, new String(PASSWORD)).applicationProtocols(ALPN).build();
    }

    /**
     * Writes a PKCS12 key store with a fresh self-signed EC (secp256r1) certificate to {@code store}, by this
     * JDK's {@code keytool} (at most 30 s).
     *
     * @param store where to write it (must not exist)
     * @throws IOException when keytool fails, naming its output
     * @throws InterruptedException when interrupted while keytool runs
     */
    public static void writeSelfSignedKeystore(Path store) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "quic", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=localhost", "-validity", "2", "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass", new String(PASSWORD), "-keypass", new String(PASSWORD))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("keytool failed: " + out);
        }
    }

    /**
     * A client context that trusts any certificate (for checks against {@link #selfSignedServerSsl()}).
     *
     * @return the context
     */
    public static QuicSslContext clientSsl() {
        return QuicSslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocols(ALPN).build();
    }

    /**
     * The echo server codec settings: 10 s idle timeout, room for 100,000 streams, {@link #CID_LIMIT}
     * connection ids, half-closed streams allowed (the echo ends its side when the client's side ends).
     *
     * @param ssl  the server context
     * @param echo the stream handler (its connection counter is the connection handler)
     * @return the builder, for {@link dev.reuseport.netty.NettyQuic#serve}
     */
    public static QuicServerCodecBuilder serverCodec(QuicSslContext ssl, Echo echo) {
        return new QuicServerCodecBuilder().sslContext(ssl).maxIdleTimeout(10, TimeUnit.SECONDS)
                .initialMaxData(10_000_000).initialMaxStreamDataBidirectionalLocal(1_000_000)
                .initialMaxStreamDataBidirectionalRemote(1_000_000).initialMaxStreamsBidirectional(100_000)
                .activeConnectionIdLimit(CID_LIMIT)
                .tokenHandler(InsecureQuicTokenHandler.INSTANCE).handler(echo.connectionCounter())
                .streamOption(ChannelOption.ALLOW_HALF_CLOSURE, true).streamHandler(echo);
    }

    /** Echo streams: each stream's bytes go back, then its end; counts connections and streams per worker slot. */
    @ChannelHandler.Sharable
    public static final class Echo extends ChannelInboundHandlerAdapter {
        /** Connections per worker slot. */
        public final AtomicLongArray connections = new AtomicLongArray(256);
        /** Streams per worker slot. */
        public final AtomicLongArray streams = new AtomicLongArray(256);

        /** A handler with zero counts. */
        public Echo() {
        }

        /**
         * The connections counted on every slot.
         *
         * @return their sum
         */
        public long connectionCount() {
            long n = 0;
            for (int i = 0; i < connections.length(); i++) {
                n += connections.get(i);
            }
            return n;
        }

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
}
