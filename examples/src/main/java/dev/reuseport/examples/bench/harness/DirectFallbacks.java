package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code group.fallback} timed directly, each time after re-enforcing round-robin. */
public final class DirectFallbacks {
    private DirectFallbacks() {
    }

    /**
     * Times {@code group.fallback} {@code repeats} times, each after re-enforcing round-robin; returns
     * [runs, median wall us of the call, median us from the call to the kernel default in force].
     */
    public static double[] run(PrintWriter out, ReuseportGroup g, int repeats, String label) throws Exception {
        List<Double> wall = new ArrayList<>();
        List<Double> sw = new ArrayList<>();
        for (int i = 1; i <= repeats; i++) {
            g.policy(Policy.roundRobin());
            Thread.sleep(100);
            if (!g.capabilities().steering().startsWith("bpf")) {
                out.println("NOTE re-enforcing round-robin failed: " + g.capabilities().steeringReason());
                break;
            }
            long a = System.nanoTime();
            long r = g.fallback("bench: direct fallback " + i + " of " + repeats + " (" + label + ")");
            long b = System.nanoTime();
            wall.add((b - a) / 1000.0);
            // fallback() returns System.nanoTime() at the moment the kernel default was in force (an earlier
            // version returned the duration of the map updates): accept either, say which
            if (r >= a && r <= b) {
                sw.add((r - a) / 1000.0);
            } else if (r >= 0 && r <= b - a) {
                sw.add(r / 1000.0);
            } else {
                out.println("NOTE group.fallback returned " + r + ", neither an instant within the call nor a duration");
            }
            Thread.sleep(30);
        }
        out.printf(Locale.ROOT, "direct group.fallback() after re-enforcing, %s, %d runs: call wall us %s (median %s); "
                + "call -> kernel default in force us %s (median %s)%n", label, wall.size(), Stats.list(wall),
                Stats.fmt(Stats.median(wall), 1), Stats.list(sw), Stats.fmt(Stats.median(sw), 1));
        return new double[] {wall.size(), Stats.median(wall), Stats.median(sw)};
    }
}
