package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The new side's watch over old socket generations keeps checking after a failed check (it used to end at the
 * first error, leaving a dead process's generation live for good), backs off, and still ends when none is
 * left or the group closes. The check is the seam; the retirement itself is proven on the kernel by
 * GenerationHandoffTest.
 */
class GenerationWatchRetryTest {

    @Test
    void failedChecksAreTriedAgainUntilNoOldGenerationIsLeft() {
        AtomicInteger calls = new AtomicInteger();
        GenerationDrain.Check check = () -> switch (calls.incrementAndGet()) {
            case 1, 2 -> throw new IOException("bpf_map_lookup_elem: ENOMEM");
            case 3 -> throw new IllegalStateException("the steering maps cannot be read");
            case 4 -> 1; // one old generation still has sockets
            default -> 0; // its process is gone: retired
        };
        long t0 = System.nanoTime();
        int failures = GenerationDrain.watchLoop("test", check, () -> false, Duration.ofMillis(1));
        assertThat(failures).isEqualTo(3);
        assertThat(calls.get()).isEqualTo(5);
        // backed off 2, 4 and 8 periods after the failures, 1 after the success
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(15));
    }

    @Test
    void theWatchEndsWhenTheGroupClosesEvenWhileChecksFail() {
        AtomicInteger calls = new AtomicInteger();
        GenerationDrain.Check failing = failing(calls, "EBADF");
        int failures = GenerationDrain.watchLoop("test", failing, () -> calls.get() >= 4, Duration.ofMillis(1));
        assertThat(failures).isEqualTo(4);
        assertThat(calls.get()).isEqualTo(4);
    }

    @Test
    void theBackoffIsCapped() {
        AtomicInteger calls = new AtomicInteger();
        GenerationDrain.Check failing = failing(calls, "EIO");
        long t0 = System.nanoTime();
        // ten failures at 1 ms: 2+4+...+32 then 32 each (capped), about 0.25 s, not 2^10 periods and more
        GenerationDrain.watchLoop("test", failing, () -> calls.get() >= 10, Duration.ofMillis(1));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
        assertThat(GenerationDrain.MAX_BACKOFF).isEqualTo(32);
    }

    /** A check that fails every time with {@code errno}, counting its calls. */
    private static GenerationDrain.Check failing(AtomicInteger calls, String errno) {
        return () -> {
            calls.incrementAndGet();
            throw new IOException(errno);
        };
    }
}
