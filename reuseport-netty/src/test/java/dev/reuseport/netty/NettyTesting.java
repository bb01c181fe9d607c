package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import dev.reuseport.testkit.KernelAssumptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** Shared pieces of the Netty adapter tests: skips, loops, slot-echo handlers, clients, fd listings. */
final class NettyTesting {
    static final InetAddress LO = InetAddress.getLoopbackAddress();

    private NettyTesting() {
    }

    /** Skips, with the reason, where Netty's native epoll transport cannot load. */
    static void assumeEpoll() {
        assumeTrue(Epoll.isAvailable(), "Netty native epoll unavailable: " + Epoll.unavailabilityCause());
    }

    /** Skips without root when eBPF steering is unavailable; as root a probe saying otherwise fails. */
    static void assumeSteering() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        if (!KernelAssumptions.isRoot()) {
            assumeTrue(Probes.steeringAvailable(f), "not root and eBPF steering unavailable: " + f);
        }
        assertThat(Probes.steeringAvailable(f)).as("probes as root: %s", f).isTrue();
    }

    static EventLoopGroup epollLoops(int n) {
        return new MultiThreadIoEventLoopGroup(n, EpollIoHandler.newFactory());
    }

    static void shutdown(EventLoopGroup g) {
        g.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * TCP: on connect, writes the worker's slot as one byte, then echoes. Counts connections per slot and
     * records which loop served each slot.
     */
    @ChannelHandler.Sharable
    static final class SlotEcho extends ChannelInboundHandlerAdapter {
        final AtomicLongArray served = new AtomicLongArray(256);
        final Map<Integer, Set<EventLoop>> loopsBySlot = new ConcurrentHashMap<>();
        final AtomicLong wrongWorker = new AtomicLong();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            int slot = NettyReuseport.worker(ctx.channel()).slot();
            served.incrementAndGet(slot);
            loopsBySlot.computeIfAbsent(slot, s -> ConcurrentHashMap.newKeySet()).add(ctx.channel().eventLoop());
            ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {(byte) slot}));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        long total() {
            long t = 0;
            for (int i = 0; i < served.length(); i++) {
                t += served.get(i);
            }
            return t;
        }
    }

    /** UDP: answers each datagram with the worker's slot (one byte) followed by the datagram. */
    @ChannelHandler.Sharable
    static final class SlotDatagramEcho extends ChannelInboundHandlerAdapter {
        final AtomicLongArray served = new AtomicLongArray(256);
        final Map<Integer, Set<EventLoop>> loopsBySlot = new ConcurrentHashMap<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket p = (DatagramPacket) msg;
            int slot = NettyReuseport.worker(ctx.channel()).slot();
            served.incrementAndGet(slot);
            loopsBySlot.computeIfAbsent(slot, s -> ConcurrentHashMap.newKeySet()).add(ctx.channel().eventLoop());
            ByteBuf out = ctx.alloc().buffer(1 + p.content().readableBytes());
            out.writeByte(slot).writeBytes(p.content());
            p.release();
            ctx.writeAndFlush(new DatagramPacket(out, p.sender()));
        }
    }

    /** One TCP connection: sends one byte, expects the slot and the byte back; returns the slot. */
    static int connect(InetSocketAddress target) throws IOException {
        try (Socket s = new Socket(target.getAddress(), target.getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write('x');
            int slot = s.getInputStream().read();
            int echo = s.getInputStream().read();
            if (slot < 0 || echo != 'x') {
                throw new IOException("connection closed before the worker answered (slot " + slot + ", echo " + echo + ")");
            }
            return slot;
        }
    }

    /** Sends one datagram from {@code s} and returns the slot that echoed it. */
    static int ping(DatagramSocket s, InetSocketAddress target) throws IOException {
        s.send(new java.net.DatagramPacket(new byte[] {'y'}, 1, target));
        java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[8], 8);
        s.receive(p);
        if (p.getLength() != 2 || p.getData()[1] != 'y') {
            throw new IOException("bad echo of length " + p.getLength());
        }
        return p.getData()[0] & 0xff;
    }

    /** Sockets of this network namespace bound to {@code port} in {@code /proc/net/<table>}, by state. */
    static long boundTo(String table, int port, String state) throws IOException {
        String hexPort = String.format(":%04X", port);
        long n = 0;
        for (String line : Files.readAllLines(Path.of("/proc/net/" + table))) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && f[1].endsWith(hexPort) && (state == null || f[3].equals(state))) {
                n++;
            }
        }
        return n;
    }

}
