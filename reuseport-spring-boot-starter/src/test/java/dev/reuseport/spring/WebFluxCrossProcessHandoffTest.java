package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.testkit.ChildJvm;
import dev.reuseport.testkit.ChildLines;
import dev.reuseport.testkit.RequestLoad;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * WebFlux through a cross-process hand-off: a Spring Boot application (the starter, WebFlux on a group,
 * {@code reuseport.control.path}) in a child JVM hands its group to a second one started with
 * {@code reuseport.control.take-over=true} while this JVM keeps {@code GET /hello} going through
 * {@code WebClient}, a new connection per request; no request may fail. Both run with
 * {@code spring.main.lazy-initialization=true}, as a taking-over application should: the new one takes the
 * group over when its web server binds, so new connections do not wait in the sockets' queues for the rest
 * of its start (without it they did, over 10 s on a loaded machine, and requests timed out).
 *
 * <p>It fails without the hand-off: run it with {@code -Dreuseport.test.noHandoff=true} and the old child
 * is killed, as a restart without a hand-off would, before the new one opens a group of its own on the
 * port: the requests in between fail, and the test says how many.
 */
@Tag("kernel")
@Timeout(180)
class WebFluxCrossProcessHandoffTest {
    static final Duration WAIT = Duration.ofSeconds(90);

    @Test
    void aHandOffToANewApplicationUnderWebClientLoadFailsNoRequest() throws Exception {
        boolean noHandoff = Boolean.getBoolean("reuseport.test.noHandoff");
        Path dir = Files.createTempDirectory("rp-webflux-handoff", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path ctl = dir.resolve("ctl");
        List<String> common = List.of("--spring.main.banner-mode=off", "--logging.level.root=WARN",
                "--reuseport.workers=2", "--reuseport.address=127.0.0.1", "--reuseport.control.path=" + ctl,
                "--server.shutdown=graceful", "--spring.main.lazy-initialization=true");
        List<String> oldArgs = new ArrayList<>(List.of("old", "--server.port=0"));
        oldArgs.addAll(common);
        List<String> newArgs = new ArrayList<>(List.of("new"));
        newArgs.addAll(common);
        if (!noHandoff) {
            newArgs.add("--reuseport.control.take-over=true");
        }
        // both JVMs start at once; the new one starts Spring when told "go", as soon as the load runs
        try (ChildLines old = ChildLines.start("old", ChildJvm.javaCommand(WebFluxHandoffChild.class,
                oldArgs.toArray(String[]::new)));
             ChildLines neu = ChildLines.start("new", ChildJvm.javaCommand(WebFluxHandoffChild.class,
                     newArgs.toArray(String[]::new)))) {
            String ready = old.await(WAIT, "READY ");
            assertThat(ready).as("the old application serves").isNotNull();
            int port = Integer.parseInt(ready.substring(6));
            WebClient web = WebClient.builder().baseUrl("http://127.0.0.1:" + port).clientConnector(
                    new ReactorClientHttpConnector(HttpClient.create(ConnectionProvider.newConnection()))).build();
            // a new connection per request, so every request goes through some process's accept
            try (RequestLoad load = RequestLoad.start("webclient-handoff", 3, Duration.ofSeconds(150), (c, i) -> {
                String body = web.get().uri("/hello").retrieve().bodyToMono(String.class)
                        .block(Duration.ofSeconds(10));
                if (!"hello".equals(body)) {
                    throw new IllegalStateException("GET /hello answered " + body);
                }
            })) {
                if (noHandoff) {
                    assertThat(load.awaitMore(20, WAIT)).as("requests before the kill: %s", load).isTrue();
                    old.kill();
                }
                // the new application starts now, beside the load; with lazy initialization it takes the
                // group over only when its web server binds, seconds after the load began
                neu.send("go --reuseport.port=" + port);
                assertThat(load.awaitMore(20, WAIT)).as("requests before the hand-off: %s", load).isTrue();
                assertThat(old.has("HANDED-OFF")).as("the old application still serves after 20 requests, so the "
                        + "hand-off happens under load").isFalse();
                String how = neu.await(WAIT, "TOOK-OVER ", "FALLBACK ", "OPENED ");
                assertThat(neu.await(WAIT, "READY ")).isEqualTo("READY " + port);
                if (!noHandoff) {
                    assertThat(how).as("the new application took the group over").startsWith("TOOK-OVER 2");
                    assertThat(old.await(WAIT, "HANDED-OFF")).isNotNull();
                    assertThat(old.awaitExit(WAIT)).as("the old application exits once handed off").isZero();
                }
                long before = load.ok();
                load.awaitMore(30, WAIT);
                load.close();
                System.out.println("webflux cross-process hand-off" + (noHandoff ? " (NOT taken over: old killed)"
                        : "") + ": " + how + "; " + load);
                assertThat(load.failed()).as("requests failed: %s", load.failures()).isZero();
                assertThat(load.ok() - before).as("requests the new application answered alone")
                        .isGreaterThanOrEqualTo(30);
            }
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }
}
