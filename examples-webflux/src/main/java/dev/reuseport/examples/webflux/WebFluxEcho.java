package dev.reuseport.examples.webflux;

import dev.reuseport.ControlSocket;
import dev.reuseport.ReuseportGroup;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * A WebFlux application: {@code GET /hello} answers {@code hello}. With the starter on the class path and
 * {@code reuseport.enabled} (the default) it serves on a reuseport group; with
 * {@code --reuseport.enabled=false} it is plain WebFlux on Reactor Netty's own listener. After the start
 * it prints {@code READY <port>} and then reads commands from standard input, one a line: {@code restart},
 * {@code resize <n>} (answered {@code DONE ...}); end of input stops the application. With
 * {@code --reuseport.control.path=PATH} it serves the control socket there; a second instance started with
 * the same path and {@code --reuseport.control.take-over=true} takes the group over, and this one prints
 * {@code HANDED-OFF} and stops.
 */
@SpringBootApplication
public class WebFluxEcho {
    /** Creates the application class (Spring does). */
    public WebFluxEcho() {
    }

    /**
     * The route.
     *
     * @return {@code GET /hello}
     */
    @Bean
    public RouterFunction<ServerResponse> hello() {
        return RouterFunctions.route().GET("/hello", r -> ServerResponse.ok().bodyValue("hello")).build();
    }

    /**
     * Starts the application, prints READY with its port, serves standard input's commands.
     *
     * @param args Spring Boot arguments ({@code --server.port=0}, {@code --reuseport.workers=4}, ...)
     * @throws Exception when the application cannot start
     */
    public static void main(String[] args) throws Exception {
        try (ConfigurableApplicationContext ctx = SpringApplication.run(WebFluxEcho.class, args)) {
            int port = ((WebServerApplicationContext) ctx).getWebServer().getPort();
            ReuseportGroup group = ctx.getBeanProvider(ReuseportGroup.class).getIfAvailable();
            System.out.println("READY " + port + " " + (group == null ? "webflux on its own listener"
                    : "webflux on " + group));
            System.out.flush();
            ControlSocket control = ctx.getBeanProvider(ControlSocket.class).getIfAvailable();
            if (control != null) {
                Thread watch = new Thread(() -> {
                    try {
                        control.awaitHandOff(java.time.Duration.ofDays(365_000));
                    } catch (InterruptedException e) {
                        return;
                    }
                    System.out.println("HANDED-OFF; stopping (requests in flight finish)");
                    System.out.flush();
                    System.exit(SpringApplication.exit(ctx));
                }, "handoff-watch");
                watch.setDaemon(true);
                watch.start();
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                String[] w = line.trim().split("\\s+");
                try {
                    if (group == null) {
                        System.out.println("DONE no group");
                    } else if (w[0].equals("restart")) {
                        group.restart();
                        System.out.println("DONE restarted " + group.restarts());
                    } else if (w[0].equals("resize") && w.length == 2) {
                        group.resize(Integer.parseInt(w[1]));
                        System.out.println("DONE resized " + group.workers().size());
                    } else {
                        System.out.println("DONE unknown command '" + line + "'; accepted: restart, resize <n>");
                    }
                } catch (Exception e) {
                    System.out.println("DONE failed: " + e);
                }
                System.out.flush();
            }
        }
    }
}
