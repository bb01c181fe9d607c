package dev.reuseport.vertx;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.netty.GroupServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.InternetProtocolFamily;
import io.vertx.core.datagram.DatagramSocketOptions;
import io.vertx.core.net.ClientOptionsBase;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.transport.Transport;
import java.net.SocketAddress;
import java.util.concurrent.ThreadFactory;
import java.util.function.Supplier;

/**
 * Vert.x 5's TCP and HTTP servers on a {@link ReuseportGroup}'s sockets, through Vert.x's public transport
 * choice: {@code Vertx.builder().withTransport(VertxReuseport.transport(group, loops)).build()}.
 *
 * <pre>{@code
 * EventLoopGroup loops = new MultiThreadIoEventLoopGroup(4, EpollIoHandler.newFactory());
 * ReuseportGroup group = ReuseportGroup.tcp().port(8080).workers(4).open();
 * Vertx vertx = Vertx.builder().withTransport(VertxReuseport.transport(group, loops)).build();
 * vertx.createHttpServer().requestHandler(r -> r.response().end("hello"))
 *      .listen(group.localAddress().getPort()).await();
 * }</pre>
 *
 * <p><b>How.</b> Vert.x builds a Netty {@code ServerBootstrap} for each server and takes its server channel
 * from the transport ({@code io.vertx.core.spi.transport.Transport#serverChannelFactory}). The transport
 * returned here is Vert.x's epoll transport in every respect except that one: its server channel is a
 * {@link GroupServerChannel}, whose bind attaches the group's socket listener; each worker's socket
 * accepts on its own loop of {@code loops}, and every accepted (or handed-over) connection goes to
 * Vert.x's acceptor, which runs it on Vert.x's event loops. Restarts, resizes and hand-offs happen
 * underneath. Closing the server gives the sockets back to the group.
 *
 * <p><b>Hand-offs.</b> A process taking a group over from another ({@link ReuseportGroup#takeOver}) should
 * be ready to serve when it does: {@link #transport(Supplier, EventLoopGroup)} asks for the group only when
 * a server binds, so {@code Vertx}, its verticles and servers can be built first and the take-over comes
 * right before {@code listen}. On the old side, {@code ControlSocket.awaitHandOff} returns once the workers'
 * sockets stopped accepting and Vert.x has read from every connection they accepted (at most
 * 5 s, {@link dev.reuseport.netty.NettyReuseport#SETTLE_TIMEOUT_MILLIS}): {@code server.shutdown} then finishes
 * each of them; the rest wait in the sockets' queues for the new process.
 *
 * <p><b>Limits.</b> A group takes one serving listener: listen one server on it (one verticle instance;
 * Vert.x's own port sharing between instances does not apply). Domain sockets and datagram sockets are
 * Vert.x's epoll transport's own, not the group's. Server socket options Vert.x sets on the bootstrap
 * (backlog, SO_REUSEPORT...) are the group's business: it opened its sockets with its own.
 */
public final class VertxReuseport {
    private VertxReuseport() {
    }

    /**
     * A Vert.x transport whose TCP servers serve {@code group}.
     *
     * @param group an open TCP group
     * @param loops epoll loops, at least one per worker, where the workers' sockets accept
     * @return the transport to pass to {@code Vertx.builder().withTransport}
     * @throws IllegalArgumentException a null argument or a UDP group
     * @throws IllegalStateException    Vert.x's epoll transport is unavailable here
     */
    public static Transport transport(ReuseportGroup group, EventLoopGroup loops) {
        new GroupServerChannel(group, loops); // checks the arguments now
        return transport(epoll(), () -> group, loops);
    }

    /**
     * A Vert.x transport whose TCP servers serve the group {@code group} supplies, asked for only when a
     * server binds ({@code listen}): build {@code Vertx}, deploy and create the server first, then take the
     * group over from the process serving it ({@link ReuseportGroup#takeOver}) and listen. Connections that
     * arrive between the take-over and the bind wait in the sockets' accept queues; this makes that wait
     * the bind alone, not the building of Vert.x.
     *
     * <pre>{@code
     * AtomicReference<ReuseportGroup> group = new AtomicReference<>();
     * Vertx vertx = Vertx.builder().withTransport(VertxReuseport.transport(group::get, loops)).build();
     * HttpServer server = vertx.createHttpServer().requestHandler(handler);
     * group.set(ReuseportGroup.takeOver(control, ReuseportGroup.tcp().port(8080)));
     * server.listen(group.get().localAddress().getPort()).await();
     * }</pre>
     *
     * @param group supplies an open TCP group, asked for at each bind of a TCP server
     * @param loops epoll loops, at least one per worker, where the workers' sockets accept
     * @return the transport to pass to {@code Vertx.builder().withTransport}
     * @throws IllegalArgumentException a null argument (a supplier that gives null or a UDP group fails the
     *                                  server's {@code listen} with one)
     * @throws IllegalStateException    Vert.x's epoll transport is unavailable here
     */
    public static Transport transport(Supplier<ReuseportGroup> group, EventLoopGroup loops) {
        if (group == null || loops == null) {
            throw new IllegalArgumentException("group supplier " + group + " and loops " + loops + ": accepted: a "
                    + "supplier of an open TCP ReuseportGroup and epoll loops (MultiThreadIoEventLoopGroup with "
                    + "EpollIoHandler)");
        }
        return transport(epoll(), group, loops);
    }

    private static Transport epoll() {
        Transport epoll = Transport.EPOLL;
        if (epoll == null || !epoll.available()) {
            throw new IllegalStateException("Vert.x's epoll transport is unavailable here ("
                    + (epoll == null ? "not on the class path" : epoll.unavailabilityCause()) + "); accepted: Linux "
                    + "with netty-transport-native-epoll for this platform on the class path");
        }
        return epoll;
    }

    private static Transport transport(Transport epoll, Supplier<ReuseportGroup> group, EventLoopGroup loops) {
        io.vertx.core.spi.transport.Transport impl = new GroupTransport(epoll.implementation(), group, loops);
        return new Transport() {
            @Override
            public String name() {
                return "epoll";
            }

            @Override
            public boolean available() {
                return true;
            }

            @Override
            public Throwable unavailabilityCause() {
                return null;
            }

            @Override
            public io.vertx.core.spi.transport.Transport implementation() {
                return impl;
            }
        };
    }

    /** Vert.x's epoll transport, with the group's server channel for TCP servers. */
    private static final class GroupTransport implements io.vertx.core.spi.transport.Transport {
        private final io.vertx.core.spi.transport.Transport d;
        private final Supplier<ReuseportGroup> group;
        private final EventLoopGroup loops;

        GroupTransport(io.vertx.core.spi.transport.Transport delegate, Supplier<ReuseportGroup> group,
                       EventLoopGroup loops) {
            this.d = delegate;
            this.group = group;
            this.loops = loops;
        }

        @Override
        public ChannelFactory<? extends ServerChannel> serverChannelFactory(boolean domainSocket) {
            if (domainSocket) {
                return d.serverChannelFactory(true);
            }
            return () -> new GroupServerChannel(group.get(), loops);
        }

        @Override
        public boolean supportsDomainSockets() {
            return d.supportsDomainSockets();
        }

        @Override
        public boolean supportFileRegion() {
            return d.supportFileRegion();
        }

        @Override
        public boolean isAvailable() {
            return d.isAvailable();
        }

        @Override
        public Throwable unavailabilityCause() {
            return d.unavailabilityCause();
        }

        @Override
        public SocketAddress convert(io.vertx.core.net.SocketAddress address) {
            return d.convert(address);
        }

        @Override
        public io.vertx.core.net.SocketAddress convert(SocketAddress address) {
            return d.convert(address);
        }

        @Override
        public IoHandlerFactory ioHandlerFactory() {
            return d.ioHandlerFactory();
        }

        @Override
        public EventLoopGroup eventLoopGroup(int type, int nThreads, ThreadFactory threadFactory, int ioRatio) {
            return d.eventLoopGroup(type, nThreads, threadFactory, ioRatio);
        }

        @Override
        public DatagramChannel datagramChannel() {
            return d.datagramChannel();
        }

        @Override
        public DatagramChannel datagramChannel(InternetProtocolFamily family) {
            return d.datagramChannel(family);
        }

        @Override
        public ChannelFactory<? extends Channel> channelFactory(boolean domainSocket) {
            return d.channelFactory(domainSocket);
        }

        @Override
        public void configure(DatagramChannel channel, DatagramSocketOptions options) {
            d.configure(channel, options);
        }

        @Override
        public void configure(ClientOptionsBase options, int connectTimeout, boolean domainSocket,
                              Bootstrap bootstrap) {
            d.configure(options, connectTimeout, domainSocket, bootstrap);
        }

        @Override
        public void configure(NetServerOptions options, boolean domainSocket, ServerBootstrap bootstrap) {
            // the child options (TCP_NODELAY, keep-alive...) matter; the server channel's own (backlog,
            // SO_REUSEPORT...) reach a GroupServerChannel, which keeps or ignores them: the group opened its
            // sockets with its own
            d.configure(options, domainSocket, bootstrap);
        }
    }
}
