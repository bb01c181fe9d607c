package dev.reuseport.netty;

import static dev.reuseport.netty.NettyTesting.LO;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Child-process scenarios for {@link NettyRestartTest}, run in a private network namespace: Netty serves a
 * group through the adapter while clients open a connection (or send a datagram) per request and the
 * group is restarted, resized or has workers replaced. Prints {@code key=value} lines.
 */
public final class NettyRestartScenario {
    private NettyRestartScenario() {
    }

    /** {@code tcp|udp <times> restart|resize|replace}. */
    public static void main(String[] args) throws Exception {
        System.out.println("tcp_migrate_req=" + String.join("", Files.readAllLines(
                Path.of("/proc/sys/net/ipv4/tcp_migrate_req"))).trim());
        String proto = args[0];
        int times = Integer.parseInt(args[1]);
        String op = args[2];
        EventLoopGroup loops = NettyTesting.epollLoops(8);
        try {
            if (proto.equals("tcp")) {
                tcp(loops, times, op);
            } else {
                udp(loops, times, op);
            }
        } finally {
            NettyTesting.shutdown(loops);
        }
    }

    private static void tcp(EventLoopGroup loops, int times, String op) throws Exception {
        NettyTesting.SlotEcho echo = new NettyTesting.SlotEcho();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(LO).workers(8).backlog(1024).open();
             NettyReuseport netty = NettyReuseport.serve(g, loops, loops, new ChannelInitializer<Channel>() {
                 @Override
                 protected void initChannel(Channel ch) {
                     ch.pipeline().addLast(echo);
                 }
             })) {
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            InetSocketAddress target = g.localAddress();
            Load load = new Load(() -> NettyTesting.connect(target));
            run(g, times, op);
            load.stop();
            System.out.println("ok=" + load.ok.get());
            System.out.println("failed=" + load.failed.get());
            System.out.println("restarts=" + g.restarts());
            System.out.println("netty_served=" + echo.total());
            System.out.println("channels=" + netty.channels().size());
        }
    }

    private static void udp(EventLoopGroup loops, int times, String op) throws Exception {
        NettyTesting.SlotDatagramEcho echo = new NettyTesting.SlotDatagramEcho();
        // a policy, so that the program steers nothing new to a leaving socket (the kernel hash would until
        // the close, and a datagram arriving after the drain is lost: see ReuseportGroup.restart)
        try (ReuseportGroup g = ReuseportGroup.udp().address(LO).workers(8).policy(Policy.consistent()).open();
             NettyReuseport netty = NettyReuseport.serveDatagrams(g, loops, echo)) {
            System.out.println("steering=" + g.capabilities().steering() + " / " + g.capabilities().steeringReason());
            InetSocketAddress target = g.localAddress();
            Load load = new Load(() -> {
                try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(LO, 0))) {
                    s.setSoTimeout(3000);
                    NettyTesting.ping(s, target);
                }
            });
            run(g, times, op);
            load.stop();
            System.out.println("ok=" + load.ok.get());
            System.out.println("failed=" + load.failed.get());
            System.out.println("restarts=" + g.restarts());
            System.out.println("channels=" + netty.channels().size());
        }
    }

    private static void run(ReuseportGroup g, int times, String op) throws Exception {
        Thread.sleep(200);
        for (int i = 0; i < times; i++) {
            switch (op) {
                case "restart" -> g.restart();
                case "resize" -> g.resize(i % 2 == 0 ? 4 : 8);
                case "replace" -> g.replaceWorker(i % 8);
                default -> throw new IllegalArgumentException(op);
            }
            Thread.sleep(20);
        }
        Thread.sleep(200);
    }

    interface Request {
        void run() throws IOException;
    }

    /** 8 client threads, one request after another, bounded by a 60 s deadline. */
    static final class Load {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final List<Thread> threads = new ArrayList<>();

        Load(Request r) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            for (int t = 0; t < 8; t++) {
                Thread th = new Thread(() -> {
                    while (!stop.get() && System.nanoTime() < deadline) {
                        try {
                            r.run();
                            ok.incrementAndGet();
                        } catch (IOException e) {
                            failed.incrementAndGet();
                            System.out.println("failure: " + e);
                        }
                    }
                }, "client-" + t);
                th.start();
                threads.add(th);
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            for (Thread th : threads) {
                th.join(10_000);
            }
        }
    }
}
