package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The soak's fallback probes ({@link HandoffChurn#probeSamples}) broken into parts from both sides' moments
 * (System.nanoTime, the one CLOCK_MONOTONIC of the machine): where a slow round trip spent its time.
 *
 * <ul>
 * <li>{@code connect}: the probe's connect (the kernel queues it; no server thread runs);
 * <li>{@code accept}: from the connect to the old side's accept returning (its accept thread woke);
 * <li>{@code to_session}: from the accept to the session beginning on a standing session thread;
 * <li>{@code read}: from the later of the request sent and the session begun, to the request line read;
 * <li>{@code run}: the {@code fallback} command itself;
 * <li>{@code write}: writing the reply;
 * <li>{@code back}: from the reply written to the probe having read it (the probe thread woke).
 * </ul>
 * The round trip the target judges is the request sent to the reply read (the connect not included).
 */
public final class ProbeParts {
    /** The parts' names, in the order of {@link #parts}. */
    public static final List<String> NAMES = List.of("connect", "accept", "to_session", "read", "run", "write", "back");

    private ProbeParts() {
    }

    /** A sample's parts in microseconds, or null when the old side's moments are unknown. */
    static long[] parts(long[] s) {
        if (s.length < 13 || s[8] == 0 || s[10] == 0 || s[12] == 0) {
            return null;
        }
        long c0 = s[6];
        long t0 = s[4];
        long t1 = s[7];
        long accepted = s[8];
        long began = s[9] == 0 ? accepted : s[9];
        return new long[] {(t0 - c0) / 1000, (accepted - c0) / 1000, (began - accepted) / 1000,
            (s[10] - Math.max(began, t0)) / 1000, (s[11] - s[10]) / 1000, (s[12] - s[11]) / 1000, (t1 - s[12]) / 1000};
    }

    /** The value at quantile {@code q} of sorted {@code v} (0 when empty). */
    static long quantile(long[] v, double q) {
        return v.length == 0 ? 0 : v[Math.min(v.length - 1, (int) Math.ceil(q * v.length) - 1 < 0 ? 0
                : (int) Math.ceil(q * v.length) - 1)];
    }

    /** The round trips' 99th percentile in us. */
    static long p99(List<long[]> samples) {
        return quantile(sorted(samples, s -> s[2]), 0.99);
    }

    private static long[] sorted(List<long[]> samples, java.util.function.ToLongFunction<long[]> f) {
        synchronized (samples) {
            return samples.stream().mapToLong(f).sorted().toArray();
        }
    }

    /** Prints the round trip's and each part's p50, p99 and max, and the slowest probes with their parts. */
    static void print(PrintWriter out, List<long[]> samples, int worst) {
        List<long[]> all;
        synchronized (samples) {
            all = new ArrayList<>(samples);
        }
        if (all.isEmpty()) {
            return;
        }
        long[] rt = all.stream().mapToLong(s -> s[2]).sorted().toArray();
        out.printf(Locale.ROOT, "  fallback round trip (us): p50 %d, p90 %d, p99 %d, max %d over %d probes%n",
                quantile(rt, 0.5), quantile(rt, 0.9), quantile(rt, 0.99), rt[rt.length - 1], rt.length);
        List<long[]> known = all.stream().map(ProbeParts::parts).filter(p -> p != null).toList();
        out.printf("  its parts (us; %d probes with the old side's moments; %d served by a session thread started for "
                + "them, %d by a standing one's first session):%n", known.size(),
                all.stream().filter(s -> s.length > 13 && s[13] == -1).count(),
                all.stream().filter(s -> s.length > 13 && s[13] == 0).count());
        out.printf("    %-11s %8s %8s %8s%n", "part", "p50", "p99", "max");
        for (int k = 0; k < NAMES.size(); k++) {
            int col = k;
            long[] v = known.stream().mapToLong(p -> p[col]).sorted().toArray();
            out.printf("    %-11s %8d %8d %8d%n", NAMES.get(k), quantile(v, 0.5), quantile(v, 0.99),
                    v.length == 0 ? 0 : v[v.length - 1]);
        }
        out.println("  slowest probes (hand-off/probe: round trip = parts us):");
        all.sort((a, b) -> Long.compare(b[2], a[2]));
        for (long[] s : all.subList(0, Math.min(worst, all.size()))) {
            long[] p = parts(s);
            StringBuilder b = new StringBuilder();
            if (p == null) {
                b.append(" (old side's moments unknown)");
            } else {
                for (int k = 0; k < p.length; k++) {
                    b.append(' ').append(NAMES.get(k)).append(' ').append(p[k]);
                }
                b.append(s.length > 13 && s[13] == -1 ? " (on a session thread started for it)"
                        : s.length > 13 && s[13] == 0 ? " (its thread's first session)" : "");
            }
            out.printf(Locale.ROOT, "    %d/%d: %d us, in group %d:%s%n", s[0], s[1], s[2], s[3], b);
        }
    }
}
