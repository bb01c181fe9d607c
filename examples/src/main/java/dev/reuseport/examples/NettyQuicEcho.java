package dev.reuseport.examples;

import dev.reuseport.ControlSocket;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.netty.NettyQuic;
import dev.reuseport.netty.check.QuicEcho;
import dev.reuseport.netty.check.QuicEchoClients;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.quic.Quic;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code netty-echo --quic}: QUIC echo streams (Netty QUIC, a fresh self-signed certificate, ALPN
 * {@value QuicEcho#ALPN}; each stream's bytes come back, then its end) on a UDP group with the QUIC
 * dissector ({@link NettyQuic}: server connection ids carry the worker's routing cookie). With
 * {@code --serve --control} it serves until handed off; a process started with {@code --take-over} opens its
 * own sockets as a new socket generation, and this one then drains: it keeps serving the QUIC connections
 * it has until no packet came for a second (or {@code --drain-seconds}), then exits. Without {@code --serve}
 * it drives a short built-in load against itself and exits 0 when every stream was echoed.
 */
final class NettyQuicEcho {
    private static final int CID = 16;

    private NettyQuicEcho() {
    }

    static int run(PrintWriter out, ServeOptions opts, int workers, int connections,
                   int drainSeconds) throws Exception {
        if (!Quic.isAvailable()) {
            out.println("Netty QUIC natives unavailable here: " + Quic.unavailabilityCause());
            return 1;
        }
        Policy policy = Policy.parse(opts.policy);
        if (policy instanceof Policy.KernelHash) {
            policy = Policy.roundRobin(); // the QUIC dissector acts under a table policy
        }
        ReuseportGroup.Builder b = ReuseportGroup.udp().address(opts.address).port(opts.port).workers(workers)
                .policy(policy).dissector(Dissector.quic(CID));
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(Math.max(workers, 2), EpollIoHandler.newFactory());
        QuicEcho.Echo echo = new QuicEcho.Echo();
        try (ReuseportGroup g = opts.open(b);
             NettyQuic quic = NettyQuic.serve(g, loops, QuicEcho.serverCodec(QuicEcho.selfSignedServerSsl(), echo))) {
            int[] gen = g.cookieGeneration();
            out.println("reuseport netty-echo --quic on " + g.localAddress() + ", " + g.workers().size()
                    + " workers, QUIC dissector (connection ids of " + quic.cidLength() + " octets), socket generation "
                    + gen[0] + " (slots from " + gen[2] + ")");
            out.print(g.capabilities().toTable());
            out.flush();
            if (opts.serve) {
                return serve(out, opts, g, quic, drainSeconds);
            }
            return demo(out, g, quic, Math.min(connections, 64));
        } finally {
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static int serve(PrintWriter out, ServeOptions opts, ReuseportGroup g, NettyQuic quic, int drainSeconds)
            throws Exception {
        if (opts.controlPath() == null) {
            out.println("READY " + g.localAddress().getPort());
            out.println("serving; Ctrl-C stops");
            out.flush();
            new CountDownLatch(1).await();
            return 0;
        }
        try (ControlSocket cs = opts.serveControl(g)) {
            out.println("control socket " + opts.controlPath());
            out.println("READY " + g.localAddress().getPort());
            out.println("serving; Ctrl-C stops");
            out.flush();
            while (!cs.awaitHandOff(Duration.ofSeconds(1))) {
                // serving
            }
            if (g.draining()) {
                out.println("handed off with socket generations: generation " + g.cookieGeneration()[0]
                        + " drains (its connections stay here) for up to " + drainSeconds + " s");
                out.flush();
                boolean drained = quic.awaitDrained(Duration.ofSeconds(1), Duration.ofSeconds(drainSeconds));
                out.println((drained ? "drained" : "drain deadline passed") + " (" + quic.packets()
                        + " packets served); retiring the generation and exiting");
            } else {
                out.println("handed off (the sockets passed); exiting");
            }
            out.flush();
            return 0;
        }
    }

    private static int demo(PrintWriter out, ReuseportGroup g, NettyQuic quic, int n) throws Exception {
        EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try (QuicEchoClients clients = new QuicEchoClients(50, 2_000)) {
            clients.connect(clientLoops, g.localAddress(), n);
            clients.start();
            Thread.sleep(2_000);
            long broken = clients.broken();
            clients.close();
            long ok = clients.ok.get();
            long failed = clients.failed.get();
            out.printf("quic: %d connections, %d streams echoed, %d failed, %d connections broken, %d packets "
                    + "misrouted%n", n, ok, failed, broken, quic.misrouted());
            boolean good = ok > 0 && failed == 0 && broken == 0 && quic.misrouted() == 0;
            out.println(good ? "OK: every stream echoed" : "FAILED");
            return good ? 0 : 1;
        } finally {
            clientLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
