package dev.reuseport.netty;

import static dev.reuseport.netty.NettyTesting.LO;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.GroupClosedException;
import dev.reuseport.ReuseportGroup;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Bad input to the adapter fails with the value and what is accepted, and leaves the group untouched. */
@Timeout(60)
class NettyAdapterBadInputTest {
    private EventLoopGroup loops;

    @BeforeEach
    void loops() {
        NettyTesting.assumeEpoll();
        loops = NettyTesting.epollLoops(4);
    }

    @AfterEach
    void stop() {
        if (loops != null) {
            NettyTesting.shutdown(loops);
        }
    }

    private static final ChannelInitializer<Channel> INIT = new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
        }
    };

    @Test
    void nullGroupIsRefused() {
        assertThatThrownBy(() -> NettyReuseport.serve(null, loops, loops, INIT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("group null")
                .hasMessageContaining("accepted: an open TCP ReuseportGroup");
    }

    @Test
    void wrongProtocolIsRefusedNamingTheOtherMethod() throws Exception {
        try (ReuseportGroup u = ReuseportGroup.udp().address(LO).workers(2).open();
             ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open()) {
            assertThatThrownBy(() -> NettyReuseport.serve(u, loops, loops, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is UDP")
                    .hasMessageContaining("use serveDatagrams");
            assertThatThrownBy(() -> NettyReuseport.serveDatagrams(t, loops, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is TCP")
                    .hasMessageContaining("use serve");
        }
    }

    @Test
    void fewerLoopsThanWorkersIsRefused() throws Exception {
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(8).open()) {
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, loops, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has 4 event loops")
                    .hasMessageContaining("8 workers").hasMessageContaining("at least one loop per worker");
            // nothing was attached: another serve with enough loops works
            EventLoopGroup eight = NettyTesting.epollLoops(8);
            try (NettyReuseport n = NettyReuseport.serve(t, eight, eight, INIT)) {
                assertThat(n.channels()).hasSize(8);
            } finally {
                NettyTesting.shutdown(eight);
            }
        }
    }

    @Test
    void nonEpollLoopsAreRefused() throws Exception {
        EventLoopGroup plain = new DefaultEventLoopGroup(2);
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open()) {
            assertThatThrownBy(() -> NettyReuseport.serve(t, plain, plain, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bossLoops has event loop")
                    .hasMessageContaining("not an epoll loop").hasMessageContaining("EpollIoHandler.newFactory()");
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, plain, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("childLoops");
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, null, INIT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("childLoops null");
        } finally {
            plain.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void unsharableOrMissingHandlerIsRefused() throws Exception {
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open()) {
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, loops, new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                }
            })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not @Sharable");
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, loops, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("childHandler null");
        }
    }

    @Test
    void secondAdapterOnOneGroupIsRefused() throws Exception {
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open();
             NettyReuseport first = NettyReuseport.serve(t, loops, loops, INIT)) {
            assertThatThrownBy(() -> NettyReuseport.serve(t, loops, loops, INIT))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has socket listener");
            assertThat(first.channels()).hasSize(2);
        }
    }

    @Test
    void closedGroupIsRefused() throws Exception {
        ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open();
        t.close();
        assertThatThrownBy(() -> NettyReuseport.serve(t, loops, loops, INIT)).isInstanceOf(GroupClosedException.class);
    }

    @Test
    void slotOutOfRangeIsRefused() throws Exception {
        try (ReuseportGroup t = ReuseportGroup.tcp().address(LO).workers(2).open();
             NettyReuseport n = NettyReuseport.serve(t, loops, loops, INIT)) {
            assertThatThrownBy(() -> n.loop(-1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("slot -1").hasMessageContaining("accepted: 0..255");
        }
    }
}
