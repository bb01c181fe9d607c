package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import java.util.Locale;

/** One moved run. */
public record FlowsMoved(String label, Policy policy, int onLeaver, int others, int moved, long lost, boolean valid,
             String bpf) {
    public double pct() {
        return others == 0 ? Double.NaN : 100.0 * moved / others;
    }

    public String pctText() {
        return valid ? Stats.fmt(pct(), 2) : "n/a";
    }

    public String row() {
        return String.format(Locale.ROOT, "%-17s %-12s %8d %8d %8d %8s %7d  %s%s", label, policy.spec(), onLeaver,
                others, moved, valid ? Stats.fmt(pct(), 2) : "n/a", lost, bpf,
                valid ? "" : "  [policy NOT in force: reported as n/a]");
    }
}
