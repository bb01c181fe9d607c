package dev.reuseport.examples.bench.harness;

import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/** Worker threads for a group; workers a resize adds get theirs through {@link #serve}. */
public abstract class WorkerThreads {
    public final ReuseportGroup group;
    public final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    public final ConcurrentHashMap<String, LongAdder> errors = new ConcurrentHashMap<>();
    public volatile boolean stopping;
    public final long hardDeadline = System.nanoTime() + TimeUnit.HOURS.toNanos(2);

    public WorkerThreads(ReuseportGroup group) {
        this.group = group;
    }

    public void serve(List<Worker> ws) {
        for (Worker w : ws) {
            Thread t = new Thread(() -> {
                try {
                    run(w);
                } catch (RuntimeException e) {
                    error("worker thread: " + e);
                }
            }, "soak-" + group.protocol().name().toLowerCase(Locale.ROOT) + "-" + w.slot());
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    abstract void run(Worker w);

    public void error(String why) {
        errors.computeIfAbsent(why, k -> new LongAdder()).increment();
    }

    public Map<String, Long> errorSnapshot() {
        Map<String, Long> m = new TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    public void stop() {
        stopping = true;
        List<Thread> ts;
        synchronized (threads) {
            ts = new ArrayList<>(threads);
        }
        for (Thread t : ts) {
            try {
                t.join(SoakWire.TIMEOUT_MILLIS + 2000L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
