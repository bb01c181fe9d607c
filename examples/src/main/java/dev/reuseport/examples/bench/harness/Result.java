package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The last line of every scenario: {@code RESULT <name> key=value ...}, keys in the order they were put.
 * A figure a run did not measure is {@code n/a}, never left out, so a reader can rely on the keys.
 */
public final class Result {
    private final String name;
    private final Map<String, String> figures = new LinkedHashMap<>();

    /** A RESULT line for scenario {@code name}. */
    public Result(String name) {
        this.name = name;
    }

    /** Adds {@code key=value} ({@code null} prints as {@code n/a}). */
    public Result put(String key, Object value) {
        if (key.isEmpty() || key.contains(" ") || key.contains("=")) {
            throw new IllegalArgumentException("RESULT key '" + key + "'; accepted: a word without spaces or '='");
        }
        figures.put(key, value == null ? "n/a" : value.toString());
        return this;
    }

    /** Adds {@code key=value} with {@code digits} decimals ({@code n/a} for NaN). */
    public Result put(String key, double value, int digits) {
        return put(key, Stats.fmt(value, digits));
    }

    /** The line. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("RESULT ").append(name);
        figures.forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
        return b.toString();
    }

    /** Prints the line and flushes: call it last. */
    public void print(PrintWriter out) {
        out.println(this);
        out.flush();
    }
}
