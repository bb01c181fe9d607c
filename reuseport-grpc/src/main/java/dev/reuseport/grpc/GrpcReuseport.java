package dev.reuseport.grpc;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.netty.GroupServerChannel;
import dev.reuseport.netty.NettyReuseport;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.util.function.Supplier;

/**
 * gRPC-java's Netty server ({@code grpc-netty}, not the shaded artifact) serving a {@link ReuseportGroup}'s
 * sockets, through restarts, resizes, replacements and hand-offs.
 *
 * <pre>{@code
 * EventLoopGroup loops = new MultiThreadIoEventLoopGroup(8, EpollIoHandler.newFactory());
 * try (ReuseportGroup group = ReuseportGroup.tcp().port(50051).workers(8).open()) {
 *     Server server = GrpcReuseport.serverBuilder(group, loops).addService(myService).build().start();
 *     group.restart();          // gRPC keeps serving: new sockets join before the old ones leave
 *     server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
 * }
 * loops.shutdownGracefully();
 * }</pre>
 *
 * <p><b>How.</b> {@link NettyServerBuilder}'s public API takes addresses to bind and, through
 * {@link NettyServerBuilder#channelFactory}, the server channel to bind them with. The builder returned
 * here binds one channel, a {@link GroupServerChannel}, at the group's address: binding it opens nothing
 * but attaches the group's socket listener ({@link NettyReuseport}), which wraps each worker's socket in an
 * epoll server channel on its own loop ({@code loops}, slot {@code s} on loop {@code s mod n}) and passes
 * every accepted connection to gRPC's acceptor, which makes it an HTTP/2 transport on the worker loops
 * ({@code loops} again, chosen round-robin by Netty). Membership changes replace the worker channels under
 * the one channel gRPC knows, so {@code Server.getListenSockets()} shows the group's address throughout.
 * {@code Server.shutdown()} gives the sockets back to the group (which stays open, yours to close).
 *
 * <p>Do not change the builder's channel factory or event loop groups afterwards; everything else
 * (services, interceptors, keep-alive, message limits, TLS through {@code sslContext}) is gRPC's as usual.
 */
public final class GrpcReuseport {
    private GrpcReuseport() {
    }

    /**
     * A gRPC server builder whose server serves {@code group}: accept loops, one per worker, and HTTP/2
     * transports both on {@code loops}.
     *
     * @param group an open TCP group
     * @param loops epoll loops ({@code new MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory())}), at
     *              least one per worker; the caller shuts them down after the server
     * @return a builder bound to the group's address; add services and {@code build().start()}
     * @throws IllegalArgumentException a null argument or a UDP group
     */
    public static NettyServerBuilder serverBuilder(ReuseportGroup group, EventLoopGroup loops) {
        return serverBuilder(group, loops, loops);
    }

    /**
     * A gRPC server builder whose server serves {@code group}, accepting on {@code acceptLoops} (one per
     * worker) and running HTTP/2 transports on {@code transportLoops}.
     *
     * @param group          an open TCP group
     * @param acceptLoops    epoll loops, at least one per worker: slot {@code s} accepts on loop
     *                       {@code s mod n}
     * @param transportLoops epoll loops for the accepted connections (may be {@code acceptLoops})
     * @return a builder bound to the group's address; add services and {@code build().start()}
     * @throws IllegalArgumentException a null argument or a UDP group
     */
    public static NettyServerBuilder serverBuilder(ReuseportGroup group, EventLoopGroup acceptLoops,
                                                   EventLoopGroup transportLoops) {
        if (transportLoops == null) {
            throw new IllegalArgumentException("transportLoops null is not an event loop group; accepted: epoll "
                    + "loops (MultiThreadIoEventLoopGroup with EpollIoHandler)");
        }
        new GroupServerChannel(group, acceptLoops); // checks the arguments now rather than at start()
        return NettyServerBuilder.forAddress(group.localAddress())
                .channelFactory(() -> new GroupServerChannel(group, acceptLoops))
                .bossEventLoopGroup(acceptLoops)
                .workerEventLoopGroup(transportLoops);
    }

    /**
     * A gRPC server builder whose server serves the group {@code group} supplies, asked for only when the
     * server starts ({@code start()} binds): a process taking a group over from another
     * ({@link ReuseportGroup#takeOver}) builds its server first and takes the group over right before
     * {@code start()}, so that connections arriving meanwhile wait in the sockets' accept queues for the
     * bind alone, not for the building of the server.
     *
     * <pre>{@code
     * AtomicReference<ReuseportGroup> group = new AtomicReference<>();
     * Server server = GrpcReuseport.serverBuilder(group::get, loops).addService(myService).build();
     * group.set(ReuseportGroup.takeOver(control, ReuseportGroup.tcp().port(50051)));
     * server.start();
     * }</pre>
     *
     * @param group supplies an open TCP group when the server starts
     * @param loops epoll loops, at least one per worker, for the accept loops and the HTTP/2 transports
     * @return a builder bound to "the group's address" (port 0 until it starts); add services and build
     * @throws IllegalArgumentException a null argument (a supplier that gives null or a UDP group makes
     *                                  {@code start()} fail; gRPC reports the failure of its own clean-up
     *                                  after the refused channel, not the reason)
     */
    public static NettyServerBuilder serverBuilder(Supplier<ReuseportGroup> group, EventLoopGroup loops) {
        if (group == null || loops == null) {
            throw new IllegalArgumentException("group supplier " + group + " and loops " + loops + ": accepted: a "
                    + "supplier of an open TCP ReuseportGroup and epoll loops (MultiThreadIoEventLoopGroup with "
                    + "EpollIoHandler)");
        }
        // port 0: GroupServerChannel binds "whatever the group's address is"
        return NettyServerBuilder.forAddress(new InetSocketAddress(0))
                .channelFactory(() -> new GroupServerChannel(group.get(), loops))
                .bossEventLoopGroup(loops)
                .workerEventLoopGroup(loops);
    }
}
