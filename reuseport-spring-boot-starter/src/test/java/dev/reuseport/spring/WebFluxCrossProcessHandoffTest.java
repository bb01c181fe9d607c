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
 * <p>Both JVMs start at once: the new application starts beside the old one up to its web server's start,
 * where a lifecycle bean of the test holds it ({@code GATE}) until this test says {@code go} under load.
 * That the old one is still not handed off at that point shows that nothing asked for the group before
 * the web server binds; the new application's start costs no time of its own on the test's clock.
 *
 * <p>It fails without the hand-off: run it with {@code -Dreuseport.test.noHandoff=true} and the old child
 * is killed, as a restart without a hand-off would, before the new one starts and opens a group of its own
 * on the port: the requests in between fail, and the test says how many.
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
        List<String> newArgs = new ArrayList<>(List.of(noHandoff ? "fresh" : "new"));
        newArgs.addAll(common);
        if (!noHandoff) {
            // the port is the group's, which it takes over; 0 keeps a fallback off port 8080
            newArgs.addAll(List.of("--reuseport.control.take-over=true", "--server.port=0"));
        }
        // both JVMs start at once; the new one starts Spring up to its web server's start (the fresh one,
        // without a hand-off, waits for the old one's port before it starts at all)
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
                assertThat(load.awaitMore(20, WAIT)).as("requests before the hand-off: %s", load).isTrue();
                if (noHandoff) {
                    old.kill();
                    neu.send("go --reuseport.port=" + port);
                } else {
                    assertThat(neu.await(WAIT, "GATE")).as("the new application started up to its web server")
                            .isNotNull();
                    assertThat(old.has("HANDED-OFF")).as("the old application is not handed off while the new "
                            + "one started all but its web server: nothing asked for the group before the bind")
                            .isFalse();
                    neu.send("go");
                }
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
