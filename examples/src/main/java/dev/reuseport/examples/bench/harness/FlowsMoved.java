package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicIntegerArray;

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

    /**
     * Counts, from the slot each flow reached before and after worker {@code leaver} left (slot + 1, 0 for
     * not seen), the flows that were on the leaver, on the others, and those of the others that moved;
     * flows not seen in both phases are left out with a note.
     */
    public static FlowsMoved count(String label, Policy policy, AtomicIntegerArray before, AtomicIntegerArray after,
                                   int leaver, long lost, boolean valid, String bpf, List<String> notes) {
        int onLeaver = 0;
        int others = 0;
        int moved = 0;
        int unknown = 0;
        for (int f = 0; f < before.length(); f++) {
            int b = before.get(f) - 1;
            int a = after.get(f) - 1;
            if (b < 0 || a < 0) {
                unknown++;
            } else if (b == leaver) {
                onLeaver++;
            } else {
                others++;
                moved += a != b ? 1 : 0;
            }
        }
        if (unknown > 0) {
            notes.add(label + ": " + unknown + " flows not seen before or after (lost datagrams); left out");
        }
        return new FlowsMoved(label, policy, onLeaver, others, moved, lost, valid, bpf);
    }

    /** Prints the moved table for worker {@code leaver} of {@code workers} leaving, {@code flows} flows. */
    public static void printTable(PrintWriter out, int leaver, int workers, int flows, List<FlowsMoved> runs) {
        out.printf("MOVED when worker %d of %d leaves (%d UDP flows held open; one datagram per flow before and "
                + "after removeWorker(%d); each policy on a fresh group)%n", leaver, workers, flows, leaver);
        out.printf("%-17s %-12s %9s %8s %8s %8s %7s  %s%n", "run", "policy", "on-leaver", "others", "moved",
                "moved%", "lost", "bpf counters (cross-check)");
        for (FlowsMoved m : runs) {
            out.println(m.row());
        }
    }

    /** Adds a note for each run (null: not run) that lost datagrams. */
    public static void noteLost(List<String> notes, List<FlowsMoved> runs) {
        for (FlowsMoved m : runs) {
            if (m != null && m.lost() > 0) {
                notes.add(m.label() + ": " + m.lost() + " datagrams sent but not received");
            }
        }
    }

    /** The run's moved % as the RESULT line shows it; {@code n/a} when not run or not valid. */
    public static String pctText(FlowsMoved m) {
        return m == null ? "n/a" : m.pctText();
    }
}
