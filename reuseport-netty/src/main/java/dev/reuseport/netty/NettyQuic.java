package dev.reuseport.netty;

import dev.reuseport.Protocol;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.QuicCid;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Netty QUIC server on a UDP {@link ReuseportGroup}: each worker's socket gets its own QUIC codec (built
 * from your {@link QuicServerCodecBuilder}, with your SSL context, handlers and limits) whose server
 * connection ids carry the worker's routing cookie ({@link CookieConnectionIds}). With the group's
 * {@link Dissector#quic QUIC dissector} in force and a table policy, the kernel steers every packet of a
 * connection to the worker that holds its state, whatever the client's address or port does (NAT
 * rebinding) and whatever the group's membership does (resizes leave the survivors' connections where
 * they are); a client's first packets (its random connection id) are steered by the policy, keyed by that
 * id. Workers added later get their codec as they join (via {@link NettyReuseport#serveDatagrams}).
 *
 * <pre>{@code
 * ReuseportGroup group = ReuseportGroup.udp().port(4433).workers(8).policy(Policy.roundRobin())
 *         .dissector(Dissector.quic(16)).open();
 * NettyQuic quic = NettyQuic.serve(group, loops, new QuicServerCodecBuilder().sslContext(ssl)
 *         .maxIdleTimeout(30, TimeUnit.SECONDS).initialMaxData(1 << 20)
 *         .initialMaxStreamsBidirectional(100).streamHandler(echo));
 * }</pre>
 *
 * <p>Each worker's datagram pipeline also checks the cookie of every packet it receives: a packet whose
 * connection id carries a genuine cookie of the working generation for <em>another</em> worker counts as
 * {@link #misrouted()} (it reached a codec that does not know the connection).
 *
 * <p>A worker that leaves (a shrinking resize, a removal, a restart's old socket) takes its connections
 * with it. Across processes, socket generations keep them: a new process that
 * {@link ReuseportGroup#takeOver takes the group over} serves sockets of its own as a new generation and
 * issues ids of that generation, while this process's group {@link ReuseportGroup#draining() drains}: its
 * codecs keep serving the connections they have (every packet bearing their ids still reaches them) until
 * they end. {@link #awaitDrained} is the old process's hook: it returns once the group drains and no
 * packet has arrived for a quiet period; then close this server and the group.
 */
public final class NettyQuic implements AutoCloseable {
    /** The connection id length used when the group has no QUIC dissector in force. */
    public static final int DEFAULT_CID_LENGTH = 16;

    private final NettyReuseport adapter;
    private final int cidLength;
    private final AtomicLong cookiePackets;
    private final AtomicLong misrouted;
    private final AtomicLong packets;
    private final ReuseportGroup group;

    private NettyQuic(ReuseportGroup group, NettyReuseport adapter, int cidLength, AtomicLong cookiePackets,
                      AtomicLong misrouted, AtomicLong packets) {
        this.group = group;
        this.packets = packets;
        this.adapter = adapter;
        this.cidLength = cidLength;
        this.cookiePackets = cookiePackets;
        this.misrouted = misrouted;
    }

    /**
     * Serves QUIC on every worker of a UDP group, now and as workers join. The connection id length and
     * config rotation are the group's QUIC dissector's ({@link ReuseportGroup#dissector()}); without one
     * (the kernel hash, e.g. as a baseline) ids of {@value #DEFAULT_CID_LENGTH} octets still carry cookies.
     *
     * @param group an open UDP group
     * @param loops epoll loops, at least one per worker (see {@link NettyReuseport#serveDatagrams})
     * @param codec the server codec's settings (SSL context, handlers, limits); cloned for each worker, with
     *              its local connection id length and connection id generator set here
     * @return the server, serving; close it to give the sockets back to the group
     * @throws IllegalArgumentException a null argument, a TCP group, or loops as
     *                                  {@link NettyReuseport#serveDatagrams} refuses them
     * @throws IllegalStateException    Netty's QUIC natives (or epoll) cannot load here, or the group already
     *                                  has a socket listener
     * @throws IOException              the group is closed, or a channel could not be registered
     */
    public static NettyQuic serve(ReuseportGroup group, EventLoopGroup loops, QuicServerCodecBuilder codec)
            throws IOException {
        if (codec == null) {
            throw new IllegalArgumentException("codec null is not a codec builder; accepted: a QuicServerCodecBuilder "
                    + "with an SSL context and handlers");
        }
        if (group == null || group.protocol() != Protocol.UDP) {
            throw new IllegalArgumentException("group " + group + " is not a UDP group; accepted: an open UDP "
                    + "ReuseportGroup (QUIC runs over UDP)");
        }
        if (!Quic.isAvailable()) {
            throw new IllegalStateException("Netty's QUIC natives are unavailable here (" + Quic.unavailabilityCause()
                    + "); accepted: netty-codec-native-quic with this platform's classifier on the class path",
                    Quic.unavailabilityCause());
        }
        QuicServerCodecBuilder template = codec.clone(); // later changes to the caller's builder do not leak in
        Dissector d = group.dissector();
        int length = d.kind() == Dissector.Kind.QUIC ? d.cidLength() : DEFAULT_CID_LENGTH;
        int rotation = d.kind() == Dissector.Kind.QUIC ? d.configRotation() : 0;
        AtomicLong cookies = new AtomicLong();
        AtomicLong misrouted = new AtomicLong();
        AtomicLong packets = new AtomicLong();
        ChannelInitializer<Channel> init = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel c) {
                Worker w = NettyReuseport.worker(c);
                CookieConnectionIds ids = new CookieConnectionIds(group, w.slot(), length, rotation);
                c.pipeline().addLast(new CookieCheck(group, w.slot(), length, rotation, cookies, misrouted, packets),
                        template.clone().localConnectionIdLength(length).connectionIdAddressGenerator(ids).build());
            }
        };
        return new NettyQuic(group, NettyReuseport.serveDatagrams(group, loops, init), length, cookies, misrouted,
                packets);
    }

    /**
     * The datagram adapter underneath (its channels, loops and receive path).
     *
     * @return the adapter
     */
    public NettyReuseport adapter() {
        return adapter;
    }

    /**
     * The connection id length the codecs issue.
     *
     * @return 9..20
     */
    public int cidLength() {
        return cidLength;
    }

    /**
     * Packets received whose connection id carries a genuine cookie of the working generation.
     *
     * @return the count since serving began
     */
    public long cookiePackets() {
        return cookiePackets.get();
    }

    /**
     * Packets that reached a worker other than the one their connection id's cookie names.
     *
     * @return the count since serving began; 0 while the QUIC dissector steers
     */
    public long misrouted() {
        return misrouted.get();
    }

    /**
     * The old process's drain hook after a take-over with socket generations: waits until the group
     * {@link ReuseportGroup#draining() drains} and then until no QUIC packet has reached this server for
     * {@code quiet} (its connections closed, or idle that long: give the codec's idle timeout to wait for
     * idle connections to time out too), or until {@code deadline} passes, whichever comes first.
     *
     * @param quiet    how long no packet must arrive
     * @param deadline the most to wait in all
     * @return true when the group drains and was quiet for {@code quiet}; false when the deadline passed first
     * @throws InterruptedException when the waiting thread is interrupted
     * @throws IllegalArgumentException when a duration is null or negative
     */
    public boolean awaitDrained(java.time.Duration quiet, java.time.Duration deadline) throws InterruptedException {
        if (quiet == null || deadline == null || quiet.isNegative() || deadline.isNegative()) {
            throw new IllegalArgumentException("quiet " + quiet + ", deadline " + deadline + "; accepted: durations >= 0");
        }
        long end = System.nanoTime() + deadline.toNanos();
        if (!group.awaitDraining(deadline)) {
            return false;
        }
        long seen = packets.get();
        long since = System.nanoTime();
        while (System.nanoTime() - end < 0) {
            long now = packets.get();
            if (now != seen) {
                seen = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= quiet.toNanos()) {
                return true;
            }
            Thread.sleep(Math.min(50, Math.max(1, quiet.toMillis() / 4)));
        }
        return false;
    }

    /**
     * Packets received by this server's codecs (all of them, with or without a cookie).
     *
     * @return the count since serving began
     */
    public long packets() {
        return packets.get();
    }

    /** Stops serving: as {@link NettyReuseport#close()}; the QUIC connections of every worker end. */
    @Override
    public void close() {
        adapter.close();
    }

    /** Before the codec: reads each packet's destination connection id and counts cookies and misroutes. */
    private static final class CookieCheck extends ChannelInboundHandlerAdapter {
        private final ReuseportGroup group;
        private final int slot;
        private final int cidLength;
        private final int rotation;
        private final AtomicLong cookiePackets;
        private final AtomicLong misrouted;
        private final AtomicLong packets;

        CookieCheck(ReuseportGroup group, int slot, int cidLength, int rotation, AtomicLong cookiePackets,
                    AtomicLong misrouted, AtomicLong packets) {
            this.packets = packets;
            this.group = group;
            this.slot = slot;
            this.cidLength = cidLength;
            this.rotation = rotation;
            this.cookiePackets = cookiePackets;
            this.misrouted = misrouted;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof DatagramPacket p) {
                packets.incrementAndGet();
                check(p.content());
            }
            ctx.fireChannelRead(msg);
        }

        private void check(ByteBuf b) {
            int at = b.readerIndex();
            int n = b.readableBytes();
            if (n < 1) {
                return;
            }
            int off;
            int len;
            if ((b.getByte(at) & 0x80) != 0) {
                if (n < 6) {
                    return;
                }
                len = b.getUnsignedByte(at + 5);
                off = 6;
            } else {
                len = cidLength;
                off = 1;
            }
            if (len != cidLength || off + len > n) {
                return;
            }
            byte[] cid = new byte[len];
            b.getBytes(at + off, cid);
            Optional<QuicCid.Cookie> c = QuicCid.decode(cid, cidLength, rotation);
            if (c.isEmpty()) {
                return;
            }
            int[] gk = group.cookieGeneration();
            if (c.get().generation() != gk[0] || !c.get().matches(gk[1])) {
                return;
            }
            cookiePackets.incrementAndGet();
            if (c.get().worker() != slot - gk[2]) {
                misrouted.incrementAndGet();
            }
        }
    }
}
