package dev.reuseport.examples.bench.harness;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Server-side errors by cause. */
public final class ServerErrors {
    private final ConcurrentHashMap<String, LongAdder> m = new ConcurrentHashMap<>();

    public void add(String why) {
        m.computeIfAbsent(why, k -> new LongAdder()).increment();
    }

    public Map<String, Long> snapshot() {
        Map<String, Long> s = new TreeMap<>();
        m.forEach((k, v) -> s.put(k, v.sum()));
        return s;
    }
}
