package dev.reuseport.examples.bench.harness;

import dev.reuseport.DatagramBatch;
import dev.reuseport.DatagramSource;
import dev.reuseport.IngestOptions;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.ReferenceCountUtil;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A Java receiver of the ingest bench, run as its own JVM so that the whole process (JIT, GC and every
 * thread) can be confined to the receiver CPU with {@code taskset}, as the reference harness does, and its
 * CPU time counted per datagram. Arguments: {@code IMPL PORT WORKERS BATCH WARM SECONDS} with IMPL one of
 * {@code jdk lib-single lib-batch lib-gro netty netty-gro}; it binds WORKERS SO_REUSEPORT sockets on
 * 127.0.0.1:PORT in order, prints {@code READY PORT}, opens its window WARM seconds after the first
 * datagram and prints one {@link IngestRun} RESULT line: rate, the process's CPU ns per datagram, UDP
 * receive-buffer drops per second, garbage collections in the window, and bytes the receiving threads
 * allocated per datagram (the library paths; -1 elsewhere).
 */
public final class IngestReceiver {
    private static final int RCVBUF = 4 << 20;
    private static final int STRIDE = 16;

    private final AtomicLongArray counts;
    private final List<Thread> threads = new ArrayList<>();
    private final int workers;

    private IngestReceiver(int workers) {
        this.workers = workers;
        this.counts = new AtomicLongArray(workers * STRIDE);
    }

    /**
     * Runs one receiver until its window closed, then halts the JVM.
     *
     * @param args {@code IMPL PORT WORKERS BATCH WARM SECONDS}
     * @throws Exception when the receiver cannot start
     */
    public static void main(String[] args) throws Exception {
        String impl = args[0];
        int port = Integer.parseInt(args[1]);
        int workers = Integer.parseInt(args[2]);
        int batch = Integer.parseInt(args[3]);
        double warm = Double.parseDouble(args[4]);
        double secs = Double.parseDouble(args[5]);
        IngestReceiver r = new IngestReceiver(workers);
        switch (impl) {
            case "jdk" -> r.jdk(port);
            case "netty" -> r.netty(port, false, batch);
            case "netty-gro" -> r.netty(port, true, batch);
            case "lib-single", "lib-batch", "lib-gro" -> r.lib(impl, port, batch);
            default -> throw new IllegalArgumentException("receiver " + impl + "; accepted: jdk, lib-single, "
                    + "lib-batch, lib-gro, netty, netty-gro");
        }
        System.out.println("READY " + port);
        System.out.flush();
        long limit = System.nanoTime() + 30_000_000_000L;
        while (r.count() == 0) {
            if (System.nanoTime() > limit) {
                System.err.println("no datagram in 30 s");
                Runtime.getRuntime().halt(4);
            }
            Thread.sleep(1);
        }
        Thread.sleep((long) (warm * 1000));
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long e0 = rcvbufErrors();
        long g0 = gcs();
        long a0 = r.allocated();
        long c0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        long n0 = r.count();
        Thread.sleep((long) (secs * 1000));
        long n1 = r.count();
        long t1 = System.nanoTime();
        long c1 = os.getProcessCpuTime();
        long a1 = r.allocated();
        long g1 = gcs();
        long e1 = rcvbufErrors();
        double n = n1 - n0;
        double s = (t1 - t0) / 1e9;
        boolean lib = impl.startsWith("lib");
        System.out.printf(java.util.Locale.ROOT, "RESULT rate=%.0f cpu_ns=%.1f drops=%.0f gcs=%d alloc=%.3f%n",
                n / s, n > 0 ? (c1 - c0) / n : 0, (e1 - e0) / s, g1 - g0, lib && n > 0 ? (a1 - a0) / n : -1.0);
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private long count() {
        long s = 0;
        for (int i = 0; i < workers; i++) {
            s += counts.get(i * STRIDE);
        }
        return s;
    }

    /** Bytes the receiving threads allocated so far (HotSpot's per-thread counter), or -1. */
    private long allocated() {
        if (!(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx)
                || !mx.isThreadAllocatedMemorySupported()) {
            return -1;
        }
        long s = 0;
        for (Thread t : threads) {
            s += mx.getThreadAllocatedBytes(t.getId());
        }
        return s;
    }

    private static long gcs() {
        long s = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
            s += Math.max(0, b.getCollectionCount());
        }
        return s;
    }

    /** Udp RcvbufErrors of this network namespace, from /proc/net/snmp. */
    static long rcvbufErrors() {
        try {
            List<String> udp = Files.readAllLines(Path.of("/proc/net/snmp")).stream().filter(l -> l.startsWith("Udp:"))
                    .toList();
            return Long.parseLong(udp.get(1).split("\\s+")[5]);
        } catch (Exception e) {
            return 0;
        }
    }

    private void start(int k, String name, Runnable body) {
        Thread t = new Thread(body, name + "-" + k);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    private void lib(String impl, int port, int batch) throws Exception {
        boolean gro = impl.equals("lib-gro");
        ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(port).workers(workers)
                .receiveBuffer(RCVBUF).ingest(IngestOptions.defaults().udpGro(gro)).open();
        for (int k = 0; k < workers; k++) {
            Worker w = g.workers().get(k);
            int at = k * STRIDE;
            start(k, impl, () -> {
                Duration wait = Duration.ofMillis(100);
                long n = 0;
                try {
                    if (impl.equals("lib-single")) {
                        ByteBuffer dst = ByteBuffer.allocateDirect(2048);
                        DatagramSource from = new DatagramSource();
                        for (;;) {
                            dst.clear();
                            if (w.receive(dst, from, wait) >= 0) {
                                counts.lazySet(at, ++n);
                            }
                        }
                    }
                    DatagramBatch b = DatagramBatch.allocate(gro ? Math.min(batch, 16) : batch, gro ? 65_535 : 2048);
                    for (;;) {
                        int m = w.receive(b, wait);
                        for (int i = 0; i < m; i++) {
                            n += b.segmentCount(i);
                        }
                        counts.lazySet(at, n);
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
        }
    }

    private void jdk(int port) throws Exception {
        InetSocketAddress at = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        for (int k = 0; k < workers; k++) {
            DatagramChannel ch = DatagramChannel.open();
            ch.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, RCVBUF);
            ch.bind(at);
            int slot = k * STRIDE;
            start(k, "jdk", () -> {
                ByteBuffer dst = ByteBuffer.allocateDirect(2048);
                long n = 0;
                try {
                    for (;;) {
                        dst.clear();
                        if (ch.receive(dst) != null) {
                            counts.lazySet(slot, ++n);
                        }
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
        }
    }

    private void netty(int port, boolean gro, int batch) throws Exception {
        Epoll.ensureAvailability();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(workers, EpollIoHandler.newFactory());
        // GRO: one 64 KiB buffer per read (recvmsg), as Netty's own GRO example does
        int buf = gro ? 65_536 : 2048;
        int nb = gro ? 1 : batch;
        for (int k = 0; k < workers; k++) {
            int slot = k * STRIDE;
            Bootstrap b = new Bootstrap().group(group).channel(EpollDatagramChannel.class)
                    .option(EpollChannelOption.SO_REUSEPORT, true)
                    .option(ChannelOption.SO_RCVBUF, RCVBUF)
                    .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, buf)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(buf * nb))
                    .handler(new ChannelInboundHandlerAdapter() {
                        long n;

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ReferenceCountUtil.release(msg);
                            counts.lazySet(slot, ++n);
                        }
                    });
            if (gro) {
                b.option(EpollChannelOption.UDP_GRO, true);
            }
            Channel ch = b.bind(InetAddress.getLoopbackAddress(), port).sync().channel();
            if (((InetSocketAddress) ch.localAddress()).getPort() != port) {
                throw new IllegalStateException("bound " + ch.localAddress());
            }
        }
    }
}
