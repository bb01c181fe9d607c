package dev.reuseport.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.builder.SpringApplicationBuilder;

/** Bad properties fail the start naming the value; the metadata lists every property. */
class ReuseportStarterConfigTest {
    static final List<String> PROPERTIES = List.of("reuseport.enabled", "reuseport.address", "reuseport.port",
            "reuseport.workers", "reuseport.backlog", "reuseport.policy", "reuseport.web.enabled",
            "reuseport.metrics.refresh", "reuseport.endpoint.writes-enabled", "reuseport.control.path",
            "reuseport.control.take-over");

    private static void start(String... props) {
        new SpringApplicationBuilder(StarterTestApp.class).web(WebApplicationType.NONE).properties(props)
                .run().close();
    }

    @Test
    void zeroWorkersFailsTheStartNamingTheValue() {
        assertThatThrownBy(() -> start("reuseport.workers=0"))
                .hasStackTraceContaining("reuseport.workers=0 is out of range; accepted: 1..256");
    }

    @Test
    void anUnknownPolicyFailsTheStartNamingIt() {
        // the auto-configuration alone (no web server): what a start does with the property, quicker
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(ReuseportAutoConfiguration.class))
                .withPropertyValues("reuseport.policy=fastest", "reuseport.web.enabled=false")
                .run(ctx -> assertThat(ctx).hasFailed().getFailure()
                        .hasStackTraceContaining("reuseport.policy=fastest")
                        .hasStackTraceContaining("accepted: kernel-hash, round-robin"));
    }

    @Test
    void metadataListsEveryProperty() throws Exception {
        String json;
        try (InputStream in = ReuseportProperties.class.getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertThat(in).as("META-INF/spring-configuration-metadata.json in the starter's JAR").isNotNull();
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        for (String p : PROPERTIES) {
            assertThat(json).contains("\"name\": \"" + p + "\"");
        }
        assertThat(json).contains("\"defaultValue\": \"kernel-hash\"").contains("Number of workers");
    }
}
