package dev.reuseport.examples;

import dev.reuseport.Worker;
import dev.reuseport.netty.NettyReuseport;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The Netty side of {@code netty-echo} and {@code bench netty}: epoll loops, an echo handler (every byte
 * back until the client half-closes), a minimal HTTP/1.1 200 handler, and a count of connections per
 * event loop. The same pieces serve Netty's own SO_REUSEPORT listeners and the library's group, so the
 * two differ only in who owns the sockets.
 */
public final class NettyEcho {
    private final EventLoopGroup loops;
    private final Map<EventExecutor, Integer> index = new IdentityHashMap<>();
    private final AtomicLongArray perLoop;
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
    private final boolean http;

    /** {@code threads} epoll event loops; {@code http} answers HTTP/1.1 200 instead of echoing. */
    public NettyEcho(int threads, boolean http) {
        this.loops = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        int i = 0;
        for (EventExecutor e : loops) {
            index.put(e, i++);
        }
        this.perLoop = new AtomicLongArray(i);
        this.http = http;
    }

    /** The event loops. */
    public EventLoopGroup loops() {
        return loops;
    }

    /** Connections started so far on each event loop, in the loop group's order. */
    public long[] perLoop() {
        long[] out = new long[perLoop.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = perLoop.get(i);
        }
        return out;
    }

    /** The index of {@code ch}'s event loop in the loop group. */
    int loopIndex(Channel ch) {
        return index.get(ch.eventLoop());
    }

    /** For accepted connections: counts the connection on its loop, then echoes or answers HTTP. */
    public ChannelInitializer<Channel> childInitializer() {
        ChannelHandler echo = new Echo();
        ChannelHandler ok = new HttpOk();
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                perLoop.incrementAndGet(loopIndex(ch));
                open.incrementAndGet();
                ch.closeFuture().addListener(f -> open.decrementAndGet());
                if (http) {
                    ch.pipeline().addLast(new HttpServerCodec(), ok);
                } else {
                    ch.pipeline().addLast(echo);
                }
            }
        };
    }

    /** Connections accepted and not yet closed. */
    int open() {
        return open.get();
    }

    /** Shuts the event loops down (bounded). */
    public void shutdown() {
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Echoes what it reads; Netty closes the connection when the client half-closes. */
    @ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a client that reset
        }
    }

    /** Answers every request with 200 "ok", keeping the connection when the request allows it. */
    @ChannelHandler.Sharable
    static final class HttpOk extends ChannelInboundHandlerAdapter {
        private static final byte[] BODY = "ok\n".getBytes(StandardCharsets.US_ASCII);

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest req) {
                    long t0 = System.nanoTime();
                    boolean keepAlive = HttpUtil.isKeepAlive(req);
                    FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            Unpooled.wrappedBuffer(BODY));
                    res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                            .setInt(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
                    if (keepAlive) {
                        ctx.write(res);
                    } else {
                        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                    }
                    Worker w = NettyReuseport.worker(ctx.channel());
                    if (w != null) {
                        w.recordLatency(System.nanoTime() - t0);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
