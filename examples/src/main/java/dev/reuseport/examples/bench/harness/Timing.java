package dev.reuseport.examples.bench.harness;

import java.util.List;
import java.util.function.BooleanSupplier;

/** Bounded waiting: for a condition, until an instant, for threads to end. */
public final class Timing {
    private Timing() {
    }

    /** Waits (bounded by {@code millis}) until {@code c} holds; returns whether it did. */
    public static boolean waitFor(BooleanSupplier c, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (!c.getAsBoolean()) {
            if (System.nanoTime() >= deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Sleeps until {@link System#nanoTime()} reaches {@code nanoTime}. */
    public static void sleepUntil(long nanoTime) throws InterruptedException {
        sleepUntil(nanoTime, () -> false);
    }

    /** Sleeps until {@code nanoTime} or until {@code cancel} holds (checked at least every 50 ms). */
    public static void sleepUntil(long nanoTime, BooleanSupplier cancel) throws InterruptedException {
        for (long left = nanoTime - System.nanoTime(); left > 0 && !cancel.getAsBoolean();
             left = nanoTime - System.nanoTime()) {
            Thread.sleep(Math.max(1, Math.min(50, left / 1_000_000)));
        }
    }

    /** Joins each thread for at most {@code millis}; stops at an interrupt (and keeps the flag). */
    public static void joinAll(List<Thread> threads, long millis) {
        for (Thread t : threads) {
            try {
                t.join(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
