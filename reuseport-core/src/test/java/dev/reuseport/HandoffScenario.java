package dev.reuseport;

import dev.reuseport.handoff.Handoff;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Child-process roles for cross-process hand-off tests. {@code old <ctl> <haltAt|->} opens a TCP group of
 * 4 on 127.0.0.1, serves it (each connection gets its slot id back) and its control socket, prints
 * {@code READY <port>}, and exits 0 once handed off and drained. {@code new <ctl> <haltAt|->} prints
 * {@code STARTED} and waits for a line on its standard input with the port (so that the test can start
 * its JVM beside the old one's and load the port only while the hand-off runs), then takes the group over
 * (falling back to opening it on that port, on the standby sockets it joined the port with first),
 * prints {@code TOOK-OVER <workers>} or {@code FALLBACK <workers>} from its audit trail, then
 * {@code READY <port>}, and serves until its standard input closes. With a
 * {@code haltAt} step name the process dies there as kill -9 would have it (Runtime.halt).
 */
public final class HandoffScenario {
    private HandoffScenario() {
    }

    public static void main(String[] args) throws Exception {
        String haltAt = args[args.length - 1];
        Handoff handoff = haltAt.equals("-") ? Handoff.PLAIN : new Handoff(step -> {
            if (step.equals(haltAt)) {
                System.out.println("HALT " + step);
                System.out.flush();
                Runtime.getRuntime().halt(137);
            }
        });
        Path ctl = Path.of(args[1]);
        if (args[0].equals("old")) {
            try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(4).backlog(1024).open();
                 TestTraffic t = new TestTraffic(g);
                 ControlSocket cs = ControlSocket.serve(g, ctl, false, handoff)) {
                System.out.println("READY " + g.localAddress().getPort());
                System.out.flush();
                while (!cs.awaitHandOff(Duration.ofMillis(200))) {
                    if (System.in.available() < 0) {
                        return;
                    }
                }
                System.out.println("HANDED-OFF");
                System.out.flush();
            }
            return;
        }
        String go = startedThenGo();
        if (go == null) {
            return; // the test went away before the go
        }
        int port = Integer.parseInt(go);
        ReuseportGroup.Builder fallback = ReuseportGroup.tcp().address("127.0.0.1").port(port).workers(4).backlog(1024);
        ReuseportGroup g = GroupOpening.takeOver(ctl, fallback, handoff);
        String how = g.audit().entries().stream().filter(l -> l.contains("\"takeover")).findFirst().orElse("none");
        System.out.println((how.contains("takeover-fallback") ? "FALLBACK " : "TOOK-OVER ") + g.workers().size());
        try (ReuseportGroup group = g; TestTraffic t = new TestTraffic(group)) {
            System.out.println("READY " + group.localAddress().getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the test closes our standard input
            }
        }
    }

    /**
     * For a new side started ahead of its turn: prints {@code STARTED}, then waits for the test's go line on
     * standard input (the port to fall back to).
     *
     * @return the go line, trimmed; null when standard input closed first (the test went away)
     */
    static String startedThenGo() throws java.io.IOException {
        System.out.println("STARTED");
        System.out.flush();
        StringBuilder go = new StringBuilder();
        for (int c = System.in.read(); c != '\n'; c = System.in.read()) {
            if (c < 0) {
                return null;
            }
            go.append((char) c);
        }
        return go.toString().trim();
    }
}
