package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import java.util.Arrays;
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
}
