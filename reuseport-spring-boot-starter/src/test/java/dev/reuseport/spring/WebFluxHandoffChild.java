package dev.reuseport.spring;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;

/**
 * {@link StarterTestApp} in a child JVM, for {@link WebFluxCrossProcessHandoffTest}; the arguments after the
 * role are Spring Boot's ({@code --reuseport.control.path=...} and so on).
 * {@code old}: starts, prints {@code READY <port>}; once its control socket handed the group off, prints
 * {@code HANDED-OFF}, closes the context (graceful: requests in flight finish) and exits.
 * {@code new} (with {@code --reuseport.control.take-over=true}): starts at once, beside the old one, up to
 * its web server's start: a lifecycle bean in the phase just before Boot's web server start prints
 * {@code GATE} and waits for a line {@code go} on standard input; the web server then binds, which takes
 * the group over (lazy initialization: nothing asked for the group before).
 * {@code fresh}: prints {@code STARTED} and waits for a line {@code go [more arguments]} before it starts at
 * all (the test passes {@code --reuseport.port} there, once the old one's port is known).
 * {@code new} and {@code fresh} then print {@code TOOK-OVER <workers>}, {@code FALLBACK <workers>} or
 * {@code OPENED <workers>} from the group's audit trail and {@code READY <port>}, and serve until standard
 * input ends.
 */
public final class WebFluxHandoffChild {
    private WebFluxHandoffChild() {
    }

    public static void main(String[] args) throws Exception {
        List<String> boot = new ArrayList<>(List.of(args).subList(1, args.length));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        SpringApplication app = new SpringApplication(StarterTestApp.class);
        if (args[0].equals("fresh")) {
            System.out.println("STARTED");
            System.out.flush();
            String go = in.readLine();
            if (go == null || !go.startsWith("go")) {
                return;
            }
            boot.addAll(List.of(go.substring(2).trim().split("\\s+")));
        } else if (args[0].equals("new")) {
            app.addInitializers(ctx -> ctx.getBeanFactory().registerSingleton("handOffGate", new Gate(in)));
        }
        long t0 = System.nanoTime();
        ConfigurableApplicationContext ctx = app.run(boot.toArray(String[]::new));
        try {
            ReuseportGroup group = ctx.getBean(ReuseportGroup.class);
            int port = ((WebServerApplicationContext) ctx).getWebServer().getPort();
            if (!args[0].equals("old")) {
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

    /**
     * Holds the context's start just before Boot's web server starts (its phase is
     * {@code Integer.MAX_VALUE - 2048}) until standard input says {@code go}: everything else of the
     * application has started by then, and the group, asked for only when the web server binds, not yet.
     */
    static final class Gate implements SmartLifecycle {
        private final BufferedReader in;
        private volatile boolean running;

        Gate(BufferedReader in) {
            this.in = in;
        }

        @Override
        public void start() {
            System.out.println("GATE");
            System.out.flush();
            try {
                String go = in.readLine();
                if (!"go".equals(go)) {
                    throw new IllegalStateException("standard input said " + go + "; accepted: go");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            running = true;
        }

        @Override
        public void stop() {
            running = false;
        }

        @Override
        public boolean isRunning() {
            return running;
        }

        @Override
        public int getPhase() {
            return Integer.MAX_VALUE - 2048 - 1;
        }
    }
}
