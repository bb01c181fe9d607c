package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** One balance run. */
public final class Spread {
    public final String label;
    public final Policy policy;
    public final long[] counts;
    public final long expected;
    public final long total;
    public final boolean valid;
    public final String bpf;

    public Spread(String label, Policy policy, long[] counts, long expected, boolean valid, String bpf) {
        this.label = label;
        this.policy = policy;
        this.counts = counts;
        this.expected = expected;
        this.total = Stats.sum(counts);
        this.valid = valid;
        this.bpf = bpf;
    }

    public double ratio() {
        return Stats.maxOverMean(counts);
    }

    public int idle() {
        return (int) Arrays.stream(counts).filter(c -> c == 0).count();
    }

    public String ratioText() {
        return valid ? Stats.fmt(ratio(), 3) : "n/a";
    }

    public String row() {
        StringBuilder b = new StringBuilder(String.format("%-13s %-24s", label, policy.spec()));
        for (long c : counts) {
            b.append(String.format(" %6d", c));
        }
        b.append(String.format(Locale.ROOT, " %7d %6d %9s %5d  %s", total, expected - total,
                valid ? Stats.fmt(ratio(), 3) : "n/a", idle(), bpf));
        if (!valid) {
            b.append("  [policy NOT in force: kernel hash figures, reported as n/a]");
        }
        return b.toString();
    }

    /** Prints the balance table: a header over {@code workers} columns, then one row per run. */
    public static void printTable(PrintWriter out, List<Spread> runs, int workers) {
        StringBuilder h = new StringBuilder(String.format("%-13s %-24s", "run", "policy"));
        for (int s = 0; s < workers; s++) {
            h.append(String.format(" %6s", "w" + s));
        }
        h.append(String.format(" %7s %6s %9s %5s  %s", "total", "lost", "max/mean", "idle", "bpf counters (cross-check)"));
        out.println(h);
        for (Spread b : runs) {
            out.println(b.row());
        }
    }

    /**
     * Prints each worker's share of {@code run} beside its share of {@code weights} and returns the largest
     * difference in percentage points; NaN (and nothing printed) when the run is not valid.
     */
    public static double weightedError(PrintWriter out, Spread run, int[] weights) {
        if (!run.valid) {
            return Double.NaN;
        }
        int wsum = Arrays.stream(weights).sum();
        StringBuilder sh = new StringBuilder(String.format("%-13s %-24s", "", "weighted: share %"));
        StringBuilder wh = new StringBuilder(String.format("%-13s %-24s", "", "          weight share %"));
        double err = 0;
        for (int s = 0; s < weights.length; s++) {
            double share = 100.0 * run.counts[s] / run.total;
            double want = 100.0 * weights[s] / wsum;
            err = Math.max(err, Math.abs(share - want));
            sh.append(String.format(" %6s", Stats.fmt(share, 2)));
            wh.append(String.format(" %6s", Stats.fmt(want, 2)));
        }
        out.println(sh);
        out.println(wh + "   max |share - weight share| = " + Stats.fmt(err, 3) + " points");
        return err;
    }

    /** Adds a note for each run (null: not run) that counted fewer than it sent. */
    public static void noteShortfalls(List<String> notes, List<Spread> runs) {
        for (Spread b : runs) {
            if (b != null && b.total != b.expected) {
                notes.add(b.label + ": " + b.expected + " sent but " + b.total + " received/accepted");
            }
        }
    }

    /** The run's max/mean as the RESULT line shows it; {@code n/a} when not run or not valid. */
    public static String ratioText(Spread b) {
        return b == null ? "n/a" : b.ratioText();
    }
}
