package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/** The starter in a real application context on a random port: WebFlux on the group, health, endpoint. */
@Tag("kernel")
@Timeout(60)
@SpringBootTest(classes = StarterTestApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"reuseport.workers=2", "reuseport.address=127.0.0.1",
            "management.endpoints.web.exposure.include=health,reuseport",
            "management.endpoint.health.show-details=always"})
class ReuseportStarterTest {
    @LocalServerPort
    int port;

    @Autowired
    ReuseportGroup group;

    /** A client opening a new connection for every request, so each request goes through a worker's accept. */
    WebClient fresh() {
        return WebClient.builder().baseUrl("http://127.0.0.1:" + port)
                .clientConnector(new ReactorClientHttpConnector(HttpClient.create(ConnectionProvider.newConnection())))
                .build();
    }

    @Test
    void webFluxServesOnTheGroupsSocketsAndActuatorAnswers() throws Exception {
        assertThat(port).as("the web server's port is the group's").isEqualTo(group.localAddress().getPort());
        WebClient web = fresh();
        long before = group.stats().stream().mapToLong(WorkerStats::accepted).sum();
        for (int i = 0; i < 10; i++) {
            assertThat(web.get().uri("/hello").retrieve().bodyToMono(String.class).block(Duration.ofSeconds(5)))
                    .isEqualTo("hello");
        }
        long after = group.stats().stream().mapToLong(WorkerStats::accepted).sum();
        assertThat(after - before).as("connections the group's workers accepted").isGreaterThanOrEqualTo(10);

        Map<String, Object> health = web.get().uri("/actuator/health").retrieve()
                .bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(Duration.ofSeconds(5));
        assertThat(health).containsEntry("status", "UP");
        assertThat(health.toString()).contains("reuseport").contains("workers=2");

        Map<String, Object> status = web.get().uri("/actuator/reuseport").retrieve()
                .bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(Duration.ofSeconds(5));
        assertThat(status).containsEntry("workers", 2).containsEntry("policy", "kernel-hash");
        String metrics = web.get().uri("/actuator/reuseport/metrics").retrieve().bodyToMono(String.class)
                .block(Duration.ofSeconds(5));
        assertThat(metrics).contains("\"slot\":0").contains("\"accepted\"");
        String audit = web.get().uri("/actuator/reuseport/audit").retrieve().bodyToMono(String.class)
                .block(Duration.ofSeconds(5));
        assertThat(audit).startsWith("[");

        // read-only by default: a write answers 403 and changes nothing
        WebClientResponseException denied = null;
        try {
            web.post().uri("/actuator/reuseport/policy").bodyValue(Map.of("value", "round-robin")).retrieve()
                    .bodyToMono(String.class).block(Duration.ofSeconds(5));
        } catch (WebClientResponseException e) {
            denied = e;
        }
        assertThat(denied).isNotNull();
        assertThat(denied.getStatusCode().value()).isEqualTo(403);
        assertThat(group.policy().spec()).isEqualTo("kernel-hash");
    }

    @Test
    void restartsAndResizesUnderWebClientLoadFailNoRequest() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<Thread> clients = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int t = 0; t < 4; t++) {
            WebClient web = fresh();
            Thread th = new Thread(() -> {
                while (!stop.get() && System.nanoTime() < deadline) {
                    try {
                        String body = web.get().uri("/hello").retrieve().bodyToMono(String.class)
                                .block(Duration.ofSeconds(5));
                        if ("hello".equals(body)) {
                            ok.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                        System.out.println("failed request: " + e);
                    }
                }
            }, "webclient-" + t);
            th.start();
            clients.add(th);
        }
        try {
            await(ok, failed, 20);
            long before = ok.get();
            for (int i = 0; i < 3; i++) {
                group.restart();
                Thread.sleep(50);
                group.resize(i % 2 == 0 ? 1 : 2);
                Thread.sleep(50);
            }
            await(ok, failed, 20);
            assertThat(ok.get() - before).as("requests answered during the changes").isGreaterThan(20);
        } finally {
            stop.set(true);
            for (Thread th : clients) {
                th.join(10_000);
            }
        }
        System.out.println("webflux restarts/resizes: ok=" + ok + " failed=" + failed + " restarts="
                + group.restarts());
        assertThat(failed.get()).isZero();
        assertThat(group.workers()).hasSize(1); // 3 changes: 1, 2, 1 workers
    }

    private static void await(AtomicLong ok, AtomicLong failed, int n) throws InterruptedException {
        long target = ok.get() + n;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ok.get() < target && failed.get() == 0 && System.nanoTime() < end) {
            Thread.sleep(10);
        }
    }
}
