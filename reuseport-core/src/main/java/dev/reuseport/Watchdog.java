package dev.reuseport;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Watches a group for stalled workers and removes them (see {@link ReuseportGroup#watchdog}): a daemon
 * thread that works through the group's public operations only.
 */
final class Watchdog {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private Watchdog() {
    }

    /** Starts the watching thread; closing the handle stops it. */
    static AutoCloseable start(ReuseportGroup group, GroupEngine engine, Duration stall) {
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = new Thread(() -> {
            long limit = stall.toNanos();
            // per worker: {calls seen, when that count was first seen}; a worker's calls are counted, not timed,
            // so that accept and receive read no clock: idle = how long the count has stood still (to a tick)
            java.util.Map<Worker, long[]> seen = new java.util.WeakHashMap<>();
            while (!stop.get() && !group.isClosed()) {
                try {
                    Thread.sleep(Math.max(1, stall.toMillis() / 4));
                    long now = System.nanoTime();
                    for (Worker w : group.workers()) {
                        long calls = w.calls();
                        long[] s = seen.computeIfAbsent(w, k -> new long[] {calls, now});
                        if (s[0] != calls) {
                            s[0] = calls;
                            s[1] = now;
                        }
                        long idle = now - s[1];
                        if (calls != 0 && idle > limit && group.workers().size() > 1 && w.hasQueuedWork()) {
                            group.audit().record("worker-stalled", "slot", w.slot(), "idle_ms", idle / 1_000_000,
                                    "stall_ms", stall.toMillis(), "parked", w.parked(),
                                    "action", "removed; its queue and parked work move to the survivors");
                            LOG.log(System.Logger.Level.WARNING, engine.describe() + ": worker " + w.slot() + " has "
                                    + "not accepted for " + idle / 1_000_000 + " ms with work queued; removing it");
                            group.removeWorker(w.slot());
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    if (group.isClosed()) {
                        return;
                    }
                    group.audit().record("watchdog-error", "error", e.toString());
                }
            }
        }, "reuseport-watchdog");
        t.setDaemon(true);
        t.start();
        return () -> {
            stop.set(true);
            t.interrupt();
        };
    }
}
