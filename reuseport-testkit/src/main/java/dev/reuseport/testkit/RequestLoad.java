package dev.reuseport.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Client threads sending requests in a loop while a test changes the server underneath (restarts,
 * resizes, a hand-off to another process): every request either answers (counted {@link #ok()}) or
 * throws (counted {@link #failed()}, the first few reasons kept). Bounded in time; {@link #close()} stops
 * and joins the threads. What a request is (a gRPC call, an HTTP request, a TCP exchange) is the caller's.
 */
public final class RequestLoad implements AutoCloseable {
    /** One request; returns normally when it was answered right, throws otherwise. */
    @FunctionalInterface
    public interface Request {
        /**
         * Sends one request and checks its answer.
         *
         * @param client the client thread's index
         * @param n      how many requests this client sent before
         * @throws Exception the request failed
         */
        void send(int client, long n) throws Exception;
    }

    /** A change made under the load. */
    @FunctionalInterface
    public interface Change {
        /**
         * Makes change number {@code round} (from 0).
         *
         * @param round the change's index
         * @throws Exception the change failed (the test fails)
         */
        void apply(int round) throws Exception;
    }

    private static final int KEEP = 10;

    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Queue<String> why = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();

    private RequestLoad() {
    }

    /**
     * Starts {@code clients} threads sending {@code request} again and again, for at most {@code bound}.
     *
     * @param name    names the threads
     * @param clients how many client threads
     * @param bound   the longest the threads run, should the test never close the load
     * @param request one request
     * @return the running load
     */
    public static RequestLoad start(String name, int clients, Duration bound, Request request) {
        RequestLoad load = new RequestLoad();
        long deadline = System.nanoTime() + bound.toNanos();
        for (int t = 0; t < clients; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (long i = 0; !load.stop.get() && System.nanoTime() < deadline; i++) {
                    try {
                        request.send(id, i);
                        load.ok.incrementAndGet();
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception | AssertionError e) {
                        load.failed.incrementAndGet();
                        if (load.why.size() < KEEP) {
                            load.why.add(e + " (after " + load.ok.get() + " answered)");
                        }
                        try {
                            Thread.sleep(10); // counted; no need to spin on a port nothing serves
                        } catch (InterruptedException ie) {
                            return;
                        }
                    }
                }
            }, name + "-" + t);
            th.setDaemon(true);
            th.start();
            load.threads.add(th);
        }
        return load;
    }

    /**
     * Requests answered so far.
     *
     * @return the count
     */
    public long ok() {
        return ok.get();
    }

    /**
     * Requests failed so far.
     *
     * @return the count
     */
    public long failed() {
        return failed.get();
    }

    /**
     * Why the first few requests failed.
     *
     * @return at most 10 reasons, with how many had been answered when each failed
     */
    public List<String> failures() {
        return List.copyOf(why);
    }

    /**
     * Waits until {@code n} more requests were answered, one failed, or {@code max} passed.
     *
     * @param n   answers to wait for
     * @param max the longest wait
     * @return whether the {@code n} answers came
     * @throws InterruptedException interrupted
     */
    public boolean awaitMore(long n, Duration max) throws InterruptedException {
        long target = ok.get() + n;
        long end = System.nanoTime() + max.toNanos();
        while (ok.get() < target && failed.get() == 0 && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        return ok.get() >= target;
    }

    /**
     * Makes {@code rounds} changes, waiting for {@code between} answers (at most 5 s) after each, so that
     * every change happens under load; returns how many requests were answered meanwhile.
     *
     * @param rounds  how many changes
     * @param between answers to wait for after each change
     * @param change  the change
     * @return requests answered from the first change to the end of the last wait
     * @throws Exception a change failed, or interrupted
     */
    public long through(int rounds, long between, Change change) throws Exception {
        long before = ok.get();
        for (int i = 0; i < rounds; i++) {
            change.apply(i);
            awaitMore(between, Duration.ofSeconds(5));
        }
        return ok.get() - before;
    }

    /**
     * The framework tests' common check: after {@code warm} answers, ten rounds of {@code restart}, two
     * answers, then {@code resize} (which picks the size from the round), each round followed by four
     * answers; then {@code warm} more answers, the clients stopped, one line printed. Fails unless no
     * request failed and more than 20 were answered during the changes.
     *
     * @param name    names the line printed and the failures
     * @param warm    answers before the first change and after the last
     * @param restart a restart of every worker
     * @param resize  a resize, given the round (from 0)
     * @return requests answered during the changes
     * @throws Exception a change failed, or interrupted
     * @throws AssertionError the warm-up did not answer, a request failed, or too few were answered
     */
    public long underRestartsAndResizes(String name, long warm, Change restart, Change resize) throws Exception {
        if (!awaitMore(warm, Duration.ofSeconds(10))) {
            throw new AssertionError(name + " warm-up: " + this);
        }
        long during = through(10, 4, i -> {
            restart.apply(i);
            awaitMore(2, Duration.ofSeconds(5));
            resize.apply(i);
        });
        awaitMore(warm, Duration.ofSeconds(10));
        close();
        System.out.println(name + " restarts/resizes: " + this);
        if (failed() != 0) {
            throw new AssertionError(name + ": " + failed() + " requests failed: " + failures());
        }
        if (during <= 20) {
            throw new AssertionError(name + ": " + during + " requests answered during the changes, expected more "
                    + "than 20: " + this);
        }
        return during;
    }

    /** One line for the test's log: answered, failed and why. */
    @Override
    public String toString() {
        return "answered " + ok.get() + ", failed " + failed.get() + (why.isEmpty() ? "" : " " + why);
    }

    /** Stops the clients and waits (at most 10 s each) for them to finish their request. */
    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread th : threads) {
            th.join(TimeUnit.SECONDS.toMillis(10));
        }
    }
}
