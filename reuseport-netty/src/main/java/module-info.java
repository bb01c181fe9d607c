/**
 * Netty's epoll transport serving a {@link dev.reuseport.ReuseportGroup}'s sockets: one event loop per
 * worker, through restarts, resizes, removals, fallback and hand-off (see
 * {@link dev.reuseport.netty.NettyReuseport}).
 *
 * <p>Netty is not brought in by this module's POM (it is {@code provided}): the application chooses its
 * Netty 4.2 version and adds {@code netty-transport-native-epoll} with the {@code linux-x86_64} (or
 * {@code linux-aarch_64}) classifier.
 */
module dev.reuseport.netty {
    // ReuseportGroup, Worker in the API; Netty's Channel, EventLoopGroup, ChannelHandler (transport) and
    // AttributeKey (common) too.
    requires transitive dev.reuseport;
    requires transitive io.netty.transport;
    requires transitive io.netty.common;
    // Used inside only: the epoll channels that wrap the group's descriptors, and buffers.
    requires io.netty.transport.classes.epoll;
    requires io.netty.transport.unix.common;
    requires io.netty.buffer;
    // NettyQuic and CookieConnectionIds only: Netty's QUIC codec, needed by applications that serve QUIC.
    requires static io.netty.codec.classes.quic;
    // dev.reuseport.netty.check only (QUIC echo checks: the client's trust-any manager, the echo's events).
    requires static io.netty.handler;

    exports dev.reuseport.netty;
    exports dev.reuseport.netty.check;
}
