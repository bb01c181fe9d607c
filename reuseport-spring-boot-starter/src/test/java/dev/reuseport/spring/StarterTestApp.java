package dev.reuseport.spring;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/** The smallest WebFlux application: {@code GET /hello} answers {@code hello}. */
@SpringBootApplication
public class StarterTestApp {
    @Bean
    RouterFunction<ServerResponse> hello() {
        return RouterFunctions.route().GET("/hello", r -> ServerResponse.ok().bodyValue("hello")).build();
    }
}
