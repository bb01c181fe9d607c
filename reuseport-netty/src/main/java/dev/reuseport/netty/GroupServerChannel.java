package dev.reuseport.netty;

import dev.reuseport.ReuseportGroup;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AbstractServerChannel;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.ServerSocketChannelConfig;
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
 * <p>Letting go (a cross-process hand-off, the group's close): once the last worker's channel is closed
 * (nothing more is taken from the kernel queues), the group waits, at most
 * {@value NettyReuseport#SETTLE_TIMEOUT_MILLIS} ms, until the framework has read from every connection this
 * channel gave it, or the connection closed. A connection is on its way for a while (this channel's loop,
 * then the framework's child loop that registers it), and a graceful shutdown begun meanwhile (Vert.x's
 * {@code server.shutdown} once {@link dev.reuseport.ControlSocket#awaitHandOff} returned) would close it
 * with its request unread; after the wait each one is a request in progress, which the shutdown finishes.
 *
 * <p>Bind address: the framework's configured address must be the group's, or port 0 (any host): the group
 * decides where it listens, and a different port is refused with a {@link BindException} naming both.
 * {@link #localAddress()} is the group's address. Options set on it (a backlog, for instance) are
 * accepted and ignored: the group set its sockets' options when it opened them.
 */
public final class GroupServerChannel extends AbstractServerChannel implements ServerSocketChannel {
    private final ReuseportGroup group;
    private final EventLoopGroup loops;
    private final GroupChannelConfig config = new GroupChannelConfig(this);
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
    public ServerSocketChannelConfig config() {
        return config;
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) super.localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return null;
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

    /**
     * Accepts the server socket options frameworks set by habit and keeps their values, but the group's
     * sockets were opened with the group's settings: nothing here reaches a socket.
     */
    private static final class GroupChannelConfig extends DefaultChannelConfig implements ServerSocketChannelConfig {
        private volatile int backlog = ReuseportGroup.MAX_BACKLOG;
        private volatile boolean reuseAddress = true;
        private volatile int receiveBufferSize;

        GroupChannelConfig(GroupServerChannel channel) {
            super(channel);
        }

        @Override
        public <T> boolean setOption(ChannelOption<T> option, T value) {
            validate(option, value);
            if (option == ChannelOption.SO_BACKLOG) {
                setBacklog((Integer) value);
            } else if (option == ChannelOption.SO_REUSEADDR) {
                setReuseAddress((Boolean) value);
            } else if (option == ChannelOption.SO_RCVBUF) {
                setReceiveBufferSize((Integer) value);
            } else {
                return super.setOption(option, value);
            }
            return true;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T getOption(ChannelOption<T> option) {
            if (option == ChannelOption.SO_BACKLOG) {
                return (T) Integer.valueOf(backlog);
            }
            if (option == ChannelOption.SO_REUSEADDR) {
                return (T) Boolean.valueOf(reuseAddress);
            }
            if (option == ChannelOption.SO_RCVBUF) {
                return (T) Integer.valueOf(receiveBufferSize);
            }
            return super.getOption(option);
        }

        @Override
        public int getBacklog() {
            return backlog;
        }

        @Override
        public ServerSocketChannelConfig setBacklog(int v) {
            backlog = v;
            return this;
        }

        @Override
        public boolean isReuseAddress() {
            return reuseAddress;
        }

        @Override
        public ServerSocketChannelConfig setReuseAddress(boolean v) {
            reuseAddress = v;
            return this;
        }

        @Override
        public int getReceiveBufferSize() {
            return receiveBufferSize;
        }

        @Override
        public ServerSocketChannelConfig setReceiveBufferSize(int v) {
            receiveBufferSize = v;
            return this;
        }

        @Override
        public ServerSocketChannelConfig setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
            return this;
        }

        @Override
        public ServerSocketChannelConfig setConnectTimeoutMillis(int v) {
            super.setConnectTimeoutMillis(v);
            return this;
        }

        @Override
        @Deprecated
        public ServerSocketChannelConfig setMaxMessagesPerRead(int v) {
            super.setMaxMessagesPerRead(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setWriteSpinCount(int v) {
            super.setWriteSpinCount(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setAllocator(ByteBufAllocator v) {
            super.setAllocator(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setRecvByteBufAllocator(RecvByteBufAllocator v) {
            super.setRecvByteBufAllocator(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setAutoRead(boolean v) {
            super.setAutoRead(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setMessageSizeEstimator(MessageSizeEstimator v) {
            super.setMessageSizeEstimator(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setWriteBufferHighWaterMark(int v) {
            super.setWriteBufferHighWaterMark(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setWriteBufferLowWaterMark(int v) {
            super.setWriteBufferLowWaterMark(v);
            return this;
        }

        @Override
        public ServerSocketChannelConfig setWriteBufferWaterMark(WriteBufferWaterMark v) {
            super.setWriteBufferWaterMark(v);
            return this;
        }
    }
}
