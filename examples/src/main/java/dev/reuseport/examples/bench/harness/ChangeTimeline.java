package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Changes made under load (the soak's time line): each change with its start and end, what it found, and
 * the load's position when it began; failures and losses are placed on the change in force when they
 * began, and summed per kind or per detail in the report's rows.
 */
public final class ChangeTimeline {
    private ChangeTimeline() {
    }

    /** One change: both groups, one kind. */
    public static final class Change {
        public final int index;
        public final String kind;
        public final String detail;
        public final String udpBefore;
        public final String tcpBefore;
        public final long[] seqAtStart;
        public long[] seqAtEnd;
        public long start;
        public long end;
        public long tcpNanos;
        public long udpNanos;
        public long udpInErrorsAtStart;
        public String tcpError;
        public String udpError;

        public Change(int index, String kind, String detail, String tcpBefore, String udpBefore, long[] seqAtStart) {
            this.index = index;
            this.kind = kind;
            this.detail = detail;
            this.tcpBefore = tcpBefore;
            this.udpBefore = udpBefore;
            this.seqAtStart = seqAtStart;
        }

        public boolean failed() {
            return tcpError != null || udpError != null;
        }
    }

    public static void row(PrintWriter out, String label, List<Change> cs, java.util.function.Predicate<Change> which,
                     Map<Integer, Long> failedAfter, Map<Integer, Long> lostAfter, Map<Integer, Long> dropsAfter) {
        long[] agg = aggregate(cs, which, failedAfter, lostAfter, dropsAfter);
        double[] ms = times(cs, which);
        out.printf(Locale.ROOT, "%-11s %8d %8d %9.1f %9.1f %10d %11d %12d%n", label, agg[0], agg[1], ms[0], ms[1],
                agg[2], agg[3], agg[4]);
    }

    public static void rowWide(PrintWriter out, String label, List<Change> cs, java.util.function.Predicate<Change> which,
                         Map<Integer, Long> failedAfter, Map<Integer, Long> lostAfter, Map<Integer, Long> dropsAfter) {
        long[] agg = aggregate(cs, which, failedAfter, lostAfter, dropsAfter);
        double[] ms = times(cs, which);
        double tcpMs = Stats.Times.of(cs.stream().filter(which).mapToLong(c -> c.tcpNanos).toArray()).medianMillis();
        double udpMs = Stats.Times.of(cs.stream().filter(which).mapToLong(c -> c.udpNanos).toArray()).medianMillis();
        out.printf(Locale.ROOT, "%-40s %8d %8d %9.1f %9.1f %9.1f %10d %11d %12d%n", label, agg[0], agg[1], tcpMs,
                udpMs, ms[1], agg[2], agg[3], agg[4]);
    }

    static long[] aggregate(List<Change> cs, java.util.function.Predicate<Change> which,
                                    Map<Integer, Long> failedAfter, Map<Integer, Long> lostAfter,
                                    Map<Integer, Long> dropsAfter) {
        long[] a = new long[5];
        for (int i = 0; i < cs.size(); i++) {
            Change c = cs.get(i);
            if (which.test(c)) {
                a[0]++;
                a[1] += c.failed() ? 1 : 0;
                a[2] += failedAfter.getOrDefault(i, 0L);
                a[3] += lostAfter.getOrDefault(i, 0L);
                a[4] += dropsAfter.getOrDefault(i, 0L);
            }
        }
        return a;
    }

    static double[] times(List<Change> cs, java.util.function.Predicate<Change> which) {
        Stats.Times t = Stats.Times.of(cs.stream().filter(which).mapToLong(c -> c.end - c.start).toArray());
        return new double[] {t.medianMillis(), t.maxMillis()};
    }

    /** The index of the last change started at or before {@code nanos}; -1 before the first. */
    public static int changeAt(List<Change> cs, long nanos) {
        int lo = 0;
        int hi = cs.size() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (cs.get(mid).start <= nanos) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** The index of the last change whose start saw sender {@code s} at or before {@code seq}; -1 before the first. */
    public static int changeOfSeq(List<Change> cs, int s, long seq) {
        int lo = 0;
        int hi = cs.size() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (cs.get(mid).seqAtStart[s] <= seq) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    public static String describeLoss(List<Change> cs, int ci, int sender, long seq) {
        String head = "sender " + sender + " #" + seq + ": sent ";
        if (ci < 0) {
            return head + "before the first change";
        }
        Change c = cs.get(ci);
        String when = seq < c.seqAtEnd[sender] ? "during" : "after";
        String nextText = ci + 1 < cs.size() ? "; next change " + (ci + 2) + ": " + cs.get(ci + 1).detail
                + " (UDP was " + cs.get(ci + 1).udpBefore + ")" : "; no change after it";
        return head + when + " change " + (ci + 1) + ": " + c.detail + " (UDP was " + c.udpBefore + ")" + nextText;
    }

    public static String where(List<Change> cs, int ci, long nanos) {
        if (ci < 0) {
            return "before the first change";
        }
        Change c = cs.get(ci);
        long into = nanos - c.start;
        return String.format(Locale.ROOT, "%.1f ms after change %d started (%s, took %.1f ms; TCP was %s)",
                into / 1e6, ci + 1, c.detail, (c.end - c.start) / 1e6, c.tcpBefore);
    }
}
