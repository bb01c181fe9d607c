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
            while (!stop.get() && !group.isClosed()) {
                try {
                    Thread.sleep(Math.max(1, stall.toMillis() / 4));
                    for (Worker w : group.workers()) {
                        long last = w.lastCall();
                        long idle = System.nanoTime() - last;
                        if (last != 0 && idle > limit && group.workers().size() > 1 && w.hasQueuedWork()) {
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
