package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerStats;
import dev.reuseport.testkit.RequestLoad;
import java.time.Duration;
import java.util.Map;
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
        WebClient web = fresh();
        long restarts = group.restarts();
        try (RequestLoad load = RequestLoad.start("webclient", 4, Duration.ofSeconds(40), (c, i) -> {
            String body = web.get().uri("/hello").retrieve().bodyToMono(String.class).block(Duration.ofSeconds(5));
            if (!"hello".equals(body)) {
                throw new IllegalStateException("GET /hello answered " + body);
            }
        })) {
            // 10 restarts and 10 resizes (2 -> 1 -> 2 ...), each followed by answered requests
            load.underRestartsAndResizes("webflux", 20, i -> group.restart(), i -> group.resize(i % 2 == 0 ? 1 : 2));
        }
        assertThat(group.restarts() - restarts).isGreaterThanOrEqualTo(10);
        assertThat(group.workers()).hasSize(2); // 20 changes: 1, 2, 1, ... 2 workers
    }
}
