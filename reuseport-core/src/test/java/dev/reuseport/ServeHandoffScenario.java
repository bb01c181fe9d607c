package dev.reuseport;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Child-process roles for {@link ServeHandoffTest}. {@code old <ctl>}: a TCP group of 4 on 127.0.0.1
 * served by group.serve (line echo) and its control socket; prints {@code READY <port>}; once handed off,
 * waits for its loops to drain and prints {@code DRAINED loops=<n> threads=<loop threads alive>}, then
 * exits 0. {@code new <ctl>}: prints {@code STARTED} and waits for a line on its standard input with the
 * old group's port (the test starts its JVM beside the old one's and gives the go under load), then takes
 * the group over, serves it the same way, prints {@code READY <port> slots=<served slots>} and serves until
 * its standard input closes.
 */
public final class ServeHandoffScenario {
    private ServeHandoffScenario() {
    }

    public static void main(String[] args) throws Exception {
        Path ctl = Path.of(args[1]);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            if (args[0].equals("old")) {
                try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(4).backlog(1024).open();
                     Serving s = g.serve(ServeLoad.ECHO_LINE, pool, Duration.ofSeconds(5));
                     ControlSocket cs = ControlSocket.serve(g, ctl, false)) {
                    String prefix = "reuseport-serve-" + g.localAddress().getPort();
                    System.out.println("READY " + g.localAddress().getPort());
                    System.out.flush();
                    while (!cs.awaitHandOff(Duration.ofMillis(200))) {
                        // serving
                    }
                    boolean ended = s.awaitTermination(Duration.ofSeconds(10));
                    System.out.println("DRAINED ended=" + ended + " loops=" + s.loops() + " threads="
                            + ServeLoad.threadsNamed(prefix).size() + " handled=" + s.handled() + " failures="
                            + s.failures());
                    System.out.flush();
                }
                return;
            }
            String go = HandoffScenario.startedThenGo();
            if (go == null) {
                return; // the test went away before the go
            }
            int port = Integer.parseInt(go);
            ReuseportGroup g = ReuseportGroup.takeOver(ctl, null);
            try (ReuseportGroup group = g; Serving s = group.serve(ServeLoad.ECHO_LINE, pool)) {
                System.out.println("READY " + group.localAddress().getPort() + " slots=" + s.servedSlots()
                        + " wanted-port=" + port);
                System.out.flush();
                while (System.in.read() >= 0) {
                    // serve until the test closes our standard input
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
