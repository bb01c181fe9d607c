package dev.reuseport.netty;

import dev.reuseport.ReuseportGroup;
import io.netty.channel.AbstractServerChannel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * A Netty {@link ServerChannel} that stands for a whole {@link ReuseportGroup}: for frameworks that build
 * their own {@code ServerBootstrap} and only let you choose the server channel (gRPC's
 * {@code NettyServerBuilder.channelFactory}, Reactor Netty's {@code LoopResources}, Vert.x's transport).
 *
 * <p>It has no socket of its own. When the framework binds it, it starts serving the group through
 * {@link NettyReuseport} (the group's {@link dev.reuseport.SocketListener}): each worker's listener becomes
 * an epoll server channel on its own loop of {@code loops} (slot {@code s} on loop {@code s mod n}), and
 * every connection one of them accepts, or the group hands over from a leaving socket, arrives in this
 * channel's pipeline as a server channel's read does, unregistered, where the framework's acceptor
 * registers it on the framework's child loops with the framework's handlers. Restarts, resizes,
 * replacements and hand-offs change the worker channels underneath; this channel stays, so the framework
 * never notices. Closing it (the framework's shutdown) gives the sockets back to the group, which stays
 * open; connections already accepted are the framework's.
 *
 * <p>Bind address: the framework's configured address must be the group's, or port 0 (any host): the group
 * decides where it listens, and a different port is refused with a {@link BindException} naming both.
 * {@link #localAddress()} is the group's address. Options set on it (a backlog, for instance) are
 * accepted and ignored: the group set its sockets' options when it opened them.
 */
public final class GroupServerChannel extends AbstractServerChannel {
    private final ReuseportGroup group;
    private final EventLoopGroup loops;
    private final ChannelConfig config = new GroupChannelConfig(this);
    private volatile boolean open = true;
    private volatile NettyReuseport serving;

    /**
     * A channel that will serve {@code group} on {@code loops} once bound.
     *
     * @param group an open TCP group
     * @param loops epoll loops, at least one per worker (checked when bound)
     * @throws IllegalArgumentException a null argument, or a UDP group
     */
    public GroupServerChannel(ReuseportGroup group, EventLoopGroup loops) {
        if (group == null || loops == null) {
            throw new IllegalArgumentException("group " + group + " and loops " + loops + ": accepted: an open TCP "
                    + "ReuseportGroup and epoll loops (MultiThreadIoEventLoopGroup with EpollIoHandler)");
        }
        if (group.protocol() != dev.reuseport.Protocol.TCP) {
            throw new IllegalArgumentException("group " + group + " is " + group.protocol() + "; accepted: a TCP "
                    + "group");
        }
        this.group = group;
        this.loops = loops;
    }

    /**
     * The group this channel serves.
     *
     * @return the group given at construction
     */
    public ReuseportGroup group() {
        return group;
    }

    /**
     * The adapter serving the group's sockets while this channel is bound.
     *
     * @return the adapter, or null before the bind and after the close
     */
    public NettyReuseport serving() {
        return serving;
    }

    @Override
    public ChannelConfig config() {
        return config;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isActive() {
        return open && serving != null;
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return true; // it does no I/O of its own; the worker channels check their loops
    }

    @Override
    protected SocketAddress localAddress0() {
        return group.localAddress();
    }

    @Override
    protected void doBind(SocketAddress localAddress) throws Exception {
        InetSocketAddress mine = group.localAddress();
        if (localAddress instanceof InetSocketAddress a && (a.getPort() == 0 || a.getPort() == mine.getPort())
                && (a.getPort() == 0 || a.getAddress() == null || a.getAddress().isAnyLocalAddress()
                    || a.getAddress().equals(mine.getAddress()))) {
            serving = NettyReuseport.serveInto(group, loops, this);
            return;
        }
        throw new BindException("this channel serves " + group + " on " + mine + "; cannot bind " + localAddress
                + "; accepted: " + mine + ", the wildcard address with port " + mine.getPort() + ", or port 0");
    }

    @Override
    protected void doBeginRead() {
        // nothing to arm: the worker channels accept on their own loops and forward here
    }

    @Override
    protected void doClose() {
        open = false;
        NettyReuseport n = serving;
        serving = null;
        if (n != null) {
            n.close();
        }
    }

    @Override
    public String toString() {
        return "GroupServerChannel[" + group + (serving != null ? ", serving" : open ? ", unbound" : ", closed") + "]";
    }

    /** Accepts the server socket options frameworks set by habit, which the group already decided. */
    private static final class GroupChannelConfig extends DefaultChannelConfig {
        GroupChannelConfig(GroupServerChannel channel) {
            super(channel);
        }

        @Override
        public <T> boolean setOption(ChannelOption<T> option, T value) {
            if (option == ChannelOption.SO_BACKLOG || option == ChannelOption.SO_REUSEADDR
                    || option == ChannelOption.SO_RCVBUF || option == ChannelOption.TCP_FASTOPEN) {
                validate(option, value);
                return true; // the group's sockets were opened with the group's settings
            }
            return super.setOption(option, value);
        }
    }
}
