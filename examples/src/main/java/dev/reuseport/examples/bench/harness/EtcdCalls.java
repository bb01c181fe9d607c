package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Calls to an etcd cluster that may be electing a leader or missing a member, and etcd's own load. */
public final class EtcdCalls {
    private EtcdCalls() {
    }

    /**
     * A call that etcd may refuse while a member is down or a leader is being elected: asked again every
     * 100 ms, 30 s at most.
     *
     * @param call the call
     * @param <T>  what it returns
     * @return its answer
     * @throws InterruptedException when interrupted
     */
    public static <T> T retry(Supplier<T> call) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return call.get();
            } catch (RuntimeException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /**
     * Waits until a condition holds (asked every 20 ms; an exception counts as not yet) or {@code max} passes.
     *
     * @param ok  the condition
     * @param max how long at most
     * @throws InterruptedException when interrupted
     */
    public static void await(BooleanSupplier ok, Duration max) throws InterruptedException {
        long end = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < end) {
            try {
                if (ok.getAsBoolean()) {
                    return;
                }
            } catch (RuntimeException e) {
                // etcd busy or electing: ask again
            }
            Thread.sleep(20);
        }
    }

    /**
     * One member's load from its metrics: gRPC requests handled, watch events sent, watchers, database size.
     *
     * @param endpoint the member's client URL
     * @return one line, or {@code n/a (why)}
     */
    public static String load(String endpoint) {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(endpoint + "/metrics").toURL().openConnection();
            c.setConnectTimeout(1000);
            c.setReadTimeout(3000);
            String text = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            double requests = 0;
            double dbSize = 0;
            double watchEvents = 0;
            double watchers = 0;
            for (String l : text.split("\n")) {
                if (l.startsWith("grpc_server_handled_total")) {
                    requests += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                } else if (l.startsWith("etcd_mvcc_db_total_size_in_bytes ")) {
                    dbSize = Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                } else if (l.startsWith("etcd_debugging_mvcc_events_total ")) {
                    watchEvents = Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                } else if (l.startsWith("etcd_debugging_mvcc_watcher_total ")) {
                    watchers = Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                }
            }
            return String.format(Locale.ROOT, "member m0: %.0f gRPC requests handled, %.0f watch events sent, "
                    + "%.0f watchers, db %.1f MiB", requests, watchEvents, watchers, dbSize / 1048576);
        } catch (IOException | RuntimeException e) {
            return "n/a (" + e + ")";
        }
    }
}
