package dev.reuseport.netty;

import dev.reuseport.ControlSocket;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.netty.check.QuicEcho;
import io.netty.channel.EventLoopGroup;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A QUIC echo server in a JVM of its own for {@link NettyQuicGenerationsTest}: opens a UDP group (2
 * workers, round robin, the QUIC dissector) or takes one over from the previous server's control socket,
 * serves Netty QUIC echo streams on it and its own control socket, and prints {@code READY ...}. When it is
 * taken over it prints {@code DRAINING} (socket generations: it keeps serving its connections until no
 * packet came for 3 s) or {@code LET-GO} (the sockets were passed), then
 * {@code EXIT connections=<n>} and ends. A line {@code quit} on standard input ends it too.
 *
 * <p>Arguments: {@code first|take}, the keystore, this server's control socket, the previous one's, the port.
 */
public final class QuicHandoffChild {
    private QuicHandoffChild() {
    }

    /**
     * Runs one server.
     *
     * @param args mode, keystore, control socket, previous control socket (take)
     * @throws Exception on any failure (the test reads the output)
     */
    public static void main(String[] args) throws Exception {
        EventLoopGroup loops = NettyTesting.epollLoops(2);
        QuicEcho.Echo echo = new QuicEcho.Echo();
        ReuseportGroup.Builder b = ReuseportGroup.udp().address(NettyTesting.LO).workers(2).policy(Policy.roundRobin())
                .dissector(Dissector.quic(16));
        // taking over with standby sockets on the port: the program tags are read before the exchange, so its
        // deadline is not spent in the verifier (a loaded machine took longer than the 10 s it has)
        ReuseportGroup g = args[0].equals("first") ? b.open()
                : ReuseportGroup.takeOver(Path.of(args[3]), b.port(Integer.parseInt(args[4])));
        NettyQuic quic = NettyQuic.serve(g, loops, QuicEcho.serverCodec(QuicEcho.serverSsl(Path.of(args[1])),
                echo));
        ControlSocket cs = ControlSocket.serve(g, Path.of(args[2]), true);
        System.out.println("READY port=" + g.localAddress().getPort() + " generation=" + g.cookieGeneration()[0]
                + " slots=" + g.workers().stream().map(w -> String.valueOf(w.slot())).toList());
        Thread quit = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    if (l.equals("quit")) {
                        break;
                    }
                }
            } catch (java.io.IOException ignored) {
                // the test went away: end
            }
            report(echo);
            Runtime.getRuntime().halt(0);
        }, "quit");
        quit.setDaemon(true);
        quit.start();
        while (!cs.awaitHandOff(Duration.ofSeconds(1))) {
            Thread.onSpinWait();
        }
        if (g.draining()) {
            System.out.println("DRAINING generation=" + g.cookieGeneration()[0]);
            boolean drained = quic.awaitDrained(Duration.ofSeconds(3), Duration.ofSeconds(120));
            System.out.println("DRAINED " + drained);
        } else {
            System.out.println("LET-GO");
        }
        quic.close();
        g.close();
        cs.close();
        report(echo);
        NettyTesting.shutdown(loops);
        System.exit(0);
    }

    private static synchronized void report(QuicEcho.Echo echo) {
        long n = 0;
        for (int i = 0; i < echo.connections.length(); i++) {
            n += echo.connections.get(i);
        }
        System.out.println("EXIT connections=" + n);
        System.out.flush();
    }
}
