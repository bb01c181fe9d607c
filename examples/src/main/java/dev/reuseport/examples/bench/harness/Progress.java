package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Progress on standard error, so that standard output (the report and its RESULT line) stays the same:
 * a line per phase, and on long phases a line at most every {@link #EVERY_NANOS} with what the
 * scenario counts so far. Each line starts with {@code progress <scenario> +<seconds>s}.
 */
public final class Progress {
    /** At most one periodic line this often. */
    public static final long EVERY_NANOS = 5_000_000_000L;

    private final PrintWriter err;
    private final String scenario;
    private final long start = System.nanoTime();
    private long last = start;

    /** Progress of {@code scenario}, written to {@code err}. */
    public Progress(PrintWriter err, String scenario) {
        this.err = err;
        this.scenario = scenario;
    }

    /** A phase begins (or ends): always printed. */
    public void phase(String what) {
        line(what);
    }

    /** Prints {@code status.get()} when {@link #EVERY_NANOS} passed since the last line; cheap otherwise. */
    public void tick(Supplier<String> status) {
        long now = System.nanoTime();
        if (now - last >= EVERY_NANOS) {
            line(status.get());
        }
    }

    private void line(String what) {
        long now = System.nanoTime();
        last = now;
        err.printf(Locale.ROOT, "progress %s +%.1fs %s%n", scenario, (now - start) / 1e9, what);
        err.flush();
    }
}
