package dev.reuseport.spring;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@link StarterTestApp} in a child JVM, for {@link WebFluxCrossProcessHandoffTest}; the arguments after the
 * role are Spring Boot's ({@code --reuseport.control.path=...} and so on).
 * {@code old}: starts, prints {@code READY <port>}; once its control socket handed the group off, prints
 * {@code HANDED-OFF}, closes the context (graceful: requests in flight finish) and exits.
 * {@code new}: prints {@code STARTED} and waits for a line {@code go [more arguments]} on standard input (so
 * that it can start beside the old one), then starts (with {@code --reuseport.control.take-over=true} it takes the group over), prints
 * {@code TOOK-OVER <workers>}, {@code FALLBACK <workers>} or {@code OPENED <workers>} from the group's audit trail and
 * {@code READY <port>}, and serves until its standard input ends.
 */
public final class WebFluxHandoffChild {
    private WebFluxHandoffChild() {
    }

    public static void main(String[] args) throws Exception {
        List<String> boot = new ArrayList<>(List.of(args).subList(1, args.length));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        if (args[0].equals("new")) {
            System.out.println("STARTED");
            System.out.flush();
            String go = in.readLine();
            if (go == null || !go.startsWith("go")) {
                return;
            }
            boot.addAll(List.of(go.substring(2).trim().split("\\s+")));
        }
        long t0 = System.nanoTime();
        ConfigurableApplicationContext ctx = SpringApplication.run(StarterTestApp.class, boot.toArray(String[]::new));
        try {
            ReuseportGroup group = ctx.getBean(ReuseportGroup.class);
            int port = ((WebServerApplicationContext) ctx).getWebServer().getPort();
            if (args[0].equals("new")) {
                String how = group.audit().entries().stream().filter(l -> l.contains("\"takeover"))
                        .findFirst().orElse("none");
                System.out.println((how.contains("takeover-fallback") ? "FALLBACK " : how.contains("takeover")
                        ? "TOOK-OVER " : "OPENED ")
                        + group.workers().size() + " (started in " + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            }
            System.out.println("READY " + port);
            System.out.flush();
            if (args[0].equals("old")) {
                ControlSocket cs = ctx.getBean(ControlSocket.class);
                while (!cs.awaitHandOff(Duration.ofMillis(100))) {
                    if (System.in.available() < 0) {
                        return;
                    }
                }
                System.out.println("HANDED-OFF");
                System.out.flush();
            } else {
                while (in.read() >= 0) {
                    // serve until the test closes our standard input
                }
            }
        } finally {
            ctx.close();
        }
        System.out.println("EXIT");
        System.out.flush();
    }
}
