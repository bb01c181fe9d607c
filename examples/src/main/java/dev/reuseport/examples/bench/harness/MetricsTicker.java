package dev.reuseport.examples.bench.harness;

import dev.reuseport.Controller;
import dev.reuseport.MetricsSampler;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/** The ON side's window work: a controller tick and a rendered metrics sample every window. */
public final class MetricsTicker {
    /** Time spent in the window work (tick + sample + render) over all tickers, and how many windows. */
    public static final AtomicLong WORK_NANOS = new AtomicLong();
    public static final AtomicLong WORK_COUNT = new AtomicLong();
    public static final AtomicLong WORK_CPU_NANOS = new AtomicLong();
    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();
    private final Controller controller;
    private final MetricsSampler sampler;
    private final long windowNanos;
    private final Thread thread;
    private volatile boolean stopping;
    private volatile int ticks;

    public MetricsTicker(Controller controller, MetricsSampler sampler, int windowMs) {
        this.controller = controller;
        this.sampler = sampler;
        this.windowNanos = windowMs * 1_000_000L;
        this.thread = new Thread(this::run, "control-ticker");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    private void run() {
        long t0 = System.nanoTime();
        for (int i = 1; !stopping && i < 100_000; i++) {
            try {
                Timing.sleepUntil(t0 + i * windowNanos - windowNanos / 2, () -> stopping);
                if (stopping) {
                    return;
                }
                long a = System.nanoTime();
                long ca = THREADS.getCurrentThreadCpuTime();
                controller.tick();
                String text = sampler.sample().toPrometheus();
                if (text.isEmpty()) {
                    throw new IllegalStateException("empty metrics");
                }
                WORK_CPU_NANOS.addAndGet(THREADS.getCurrentThreadCpuTime() - ca);
                WORK_NANOS.addAndGet(System.nanoTime() - a);
                WORK_COUNT.incrementAndGet();
                ticks++;
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // counted as a missing tick; the round goes on
            }
        }
    }

    public int stop() throws InterruptedException {
        stopping = true;
        thread.interrupt();
        thread.join(2000);
        return ticks;
    }
}
