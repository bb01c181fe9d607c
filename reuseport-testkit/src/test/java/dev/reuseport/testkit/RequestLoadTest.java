package dev.reuseport.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The framework tests' restart-and-resize check passes only when nothing failed and load ran throughout. */
@Timeout(60)
class RequestLoadTest {

    @Test
    void tenRoundsOfRestartThenResizeUnderLoadWithNothingFailed() throws Exception {
        List<String> changes = new ArrayList<>();
        try (RequestLoad load = RequestLoad.start("ok", 2, Duration.ofSeconds(30), (c, i) -> Thread.sleep(1))) {
            long during = load.underRestartsAndResizes("ok", 5, i -> changes.add("restart " + i),
                    i -> changes.add("resize " + (i % 2 == 0 ? 1 : 2)));
            assertThat(during).isGreaterThan(20);
            assertThat(load.failed()).isZero();
        }
        assertThat(changes).hasSize(20).startsWith("restart 0", "resize 1", "restart 1", "resize 2")
                .endsWith("restart 9", "resize 2");
    }

    @Test
    void aRequestThatFailedDuringTheChangesFailsTheCheckWithItsReason() throws Exception {
        AtomicBoolean broken = new AtomicBoolean();
        try (RequestLoad load = RequestLoad.start("broken", 2, Duration.ofSeconds(30), (c, i) -> {
            Thread.sleep(1);
            if (c == 0 && broken.compareAndSet(true, false)) {
                throw new IllegalStateException("connection refused");
            }
        })) {
            // the fourth restart refuses one request, and the change waits (at most 10 s) until it has
            RequestLoad.Change restart = i -> {
                if (i == 3) {
                    broken.set(true);
                    long end = System.nanoTime() + 10_000_000_000L;
                    while (load.failed() == 0 && System.nanoTime() < end) {
                        Thread.sleep(1);
                    }
                }
            };
            assertThatThrownBy(() -> load.underRestartsAndResizes("broken", 5, restart, i -> { }))
                    .isInstanceOf(AssertionError.class).hasMessageContaining("broken: 1 requests failed")
                    .hasMessageContaining("connection refused");
        }
    }
}
