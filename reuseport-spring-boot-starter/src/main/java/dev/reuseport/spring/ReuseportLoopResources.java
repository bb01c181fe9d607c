package dev.reuseport.spring;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.netty.GroupServerChannel;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ServerSocketChannel;
import java.util.function.Supplier;
import reactor.netty.resources.LoopResources;

/**
 * Reactor Netty's {@link LoopResources} for a group: the server's loops are the group's epoll loops, and
 * the server channel Reactor Netty creates to bind is a {@link GroupServerChannel}, which serves every
 * worker's socket on its own loop and hands the accepted connections to Reactor Netty's acceptor. Other
 * channel types (clients, domain sockets) are Reactor Netty's defaults. Disposing it leaves the loops
 * alone: they belong to whoever made them.
 */
public final class ReuseportLoopResources implements LoopResources {
    private final Supplier<ReuseportGroup> group;
    private final EventLoopGroup loops;

    /**
     * Resources serving {@code group} on {@code loops}.
     *
     * @param group an open TCP group
     * @param loops epoll loops, at least one per worker
     */
    public ReuseportLoopResources(ReuseportGroup group, EventLoopGroup loops) {
        new GroupServerChannel(group, loops); // checks the arguments now
        this.group = () -> group;
        this.loops = loops;
    }

    /**
     * Resources serving the group {@code group} supplies, asked for only when Reactor Netty binds the server
     * channel (the web server's start): the starter passes its group bean this way, so that an application
     * taking the group over from another process ({@code reuseport.control.take-over}) with lazy
     * initialization takes it over just before it serves it.
     *
     * @param group supplies an open TCP group, once, at bind time
     * @param loops epoll loops, at least one per worker
     * @throws IllegalArgumentException a null argument
     */
    public ReuseportLoopResources(Supplier<ReuseportGroup> group, EventLoopGroup loops) {
        if (group == null || loops == null) {
            throw new IllegalArgumentException("group supplier " + group + " and loops " + loops + ": accepted: a "
                    + "supplier of an open TCP ReuseportGroup and epoll loops");
        }
        this.group = group;
        this.loops = loops;
    }

    @Override
    public <C extends Channel> C onChannel(Class<C> channelType, EventLoopGroup group) {
        if (channelType == ServerSocketChannel.class) {
            return channelType.cast(new GroupServerChannel(this.group.get(), loops));
        }
        return LoopResources.super.onChannel(channelType, group);
    }

    @Override
    public EventLoopGroup onServer(boolean useNative) {
        return loops;
    }

    @Override
    public EventLoopGroup onServerSelect(boolean useNative) {
        return loops;
    }

    @Override
    public String toString() {
        return "ReuseportLoopResources[" + loops + "]";
    }
}
