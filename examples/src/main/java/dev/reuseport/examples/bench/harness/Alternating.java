package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Alternating rounds of two variants (A then B, pair after pair) on the same machine: the pairs, which
 * were disturbed by other processes (left out of the medians and run again, bounded), and the ratio
 * median(B) / median(A). {@link #run} drives the rounds and prints one row per round.
 */
public final class Alternating {
    /** One measured round: the rate, this JVM's and other processes' CPU use (% of all CPUs), more columns. */
    public record RoundOut(double rate, double oursPct, double othersPct, String columns) {
        /** Rate per CPU-second this JVM used (clients and servers both live here). */
        public double perCpuSecond() {
            double cpus = Runtime.getRuntime().availableProcessors();
            return oursPct <= 0 ? Double.NaN : rate / (oursPct / 100 * cpus);
        }
    }

    /** One round of a variant. */
    public interface Round {
        /** Runs one round of {@code variant} (0 for A, 1 for B), attempt number {@code attempt}. */
        RoundOut run(int variant, int attempt) throws Exception;
    }

    /**
     * How many pairs: {@code rounds} clean pairs (other processes at most {@code maxOthers}% of the CPUs in
     * both halves), at most {@code extraRounds} more to replace disturbed ones.
     */
    public record Plan(int rounds, int extraRounds, double maxOthers) {
    }

    /**
     * Runs the pairs of {@code plan}: prints a header, one row per round (a disturbed pair marked *), and
     * adds a note for disturbed or missing pairs. {@code labels} names variant A and B in the rows.
     */
    public static Alternating run(PrintWriter out, String unit, String columnsHeader, String[] labels, Plan plan,
                                  List<String> notes, Round round) throws Exception {
        Alternating t = new Alternating(unit);
        out.printf("%-7s %-20s %12s %12s %s%n", "round", "policy", unit, "cpu% us/oth", columnsHeader);
        int clean = 0;
        for (int attempt = 0; clean < plan.rounds() && attempt < plan.rounds() + plan.extraRounds(); attempt++) {
            RoundOut[] pair = new RoundOut[2];
            for (int v = 0; v < 2; v++) {
                System.gc();
                pair[v] = round.run(v, attempt);
            }
            boolean disturbed = pair[0].othersPct > plan.maxOthers() || pair[1].othersPct > plan.maxOthers();
            for (int v = 0; v < 2; v++) {
                RoundOut o = pair[v];
                out.printf(Locale.ROOT, "%-7s %-20s %12.0f %12s %s%n", (attempt + 1) + (disturbed ? "*" : ""),
                        labels[v], o.rate, String.format(Locale.ROOT, "%.0f/%.0f", o.oursPct, o.othersPct),
                        o.columns);
            }
            out.flush();
            t.add(pair[0], pair[1], disturbed);
            if (!disturbed) {
                clean++;
            }
        }
        if (t.disturbed > 0) {
            notes.add(unit + ": " + t.disturbed + " pair(s) marked * had other processes using more than "
                    + plan.maxOthers() + "% of the CPUs; " + (clean > 0 ? "left out of the medians"
                    : "no clean pair: medians over all"));
        }
        if (clean < plan.rounds()) {
            notes.add(unit + ": only " + clean + " clean pair(s) of the " + plan.rounds() + " asked");
        }
        return t;
    }

    public final String unit;
    public final List<RoundOut> kernel = new ArrayList<>();
    public final List<RoundOut> bpf = new ArrayList<>();
    public final List<Boolean> clean = new ArrayList<>();
    public int disturbed;
    public boolean valid;
    public String bpfCounters = "-";

    public Alternating(String unit) {
        this.unit = unit;
    }

    public void add(RoundOut k, RoundOut b, boolean wasDisturbed) {
        kernel.add(k);
        bpf.add(b);
        clean.add(!wasDisturbed);
        if (wasDisturbed) {
            disturbed++;
        }
    }

    /** The rounds counted: the clean pairs, or all pairs when none was clean. */
    private double[] pick(List<RoundOut> rs, java.util.function.ToDoubleFunction<RoundOut> f, boolean all) {
        boolean anyClean = clean.contains(Boolean.TRUE);
        List<Double> v = new ArrayList<>();
        for (int i = 0; i < rs.size(); i++) {
            if (all || !anyClean || clean.get(i)) {
                v.add(f.applyAsDouble(rs.get(i)));
            }
        }
        return v.stream().mapToDouble(Double::doubleValue).toArray();
    }

    public double ratio() {
        return Stats.median(pick(bpf, RoundOut::rate, false))
                / Stats.median(pick(kernel, RoundOut::rate, false));
    }

    public String ratioText() {
        return valid && !kernel.isEmpty() ? Stats.fmt(ratio(), 3) : "n/a";
    }

    public String summary(String other) {
        if (kernel.isEmpty()) {
            return "no rounds ran";
        }
        double[] k = pick(kernel, RoundOut::rate, false);
        double[] b = pick(bpf, RoundOut::rate, false);
        double[] pairs = new double[k.length];
        for (int i = 0; i < k.length; i++) {
            pairs[i] = b[i] / k[i];
        }
        double[] kAll = pick(kernel, RoundOut::rate, true);
        double[] bAll = pick(bpf, RoundOut::rate, true);
        double[] kCpu = pick(kernel, RoundOut::perCpuSecond, false);
        double[] bCpu = pick(bpf, RoundOut::perCpuSecond, false);
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "median %s over %d pair(s): kernel-hash %.0f, %s %.0f -> ratio %s%n",
                unit, k.length, Stats.median(k), other, Stats.median(b),
                valid ? Stats.fmt(ratio(), 3) : "n/a (policy not in force)"));
        s.append(String.format(Locale.ROOT, "  per-pair ratios %s (median %.3f); over all %d pair(s) incl. "
                + "disturbed: %.3f; per CPU-second of this JVM: kernel %.0f, %s %.0f -> %.3f%n",
                Arrays.toString(Arrays.stream(pairs).mapToObj(x -> Stats.fmt(x, 3)).toArray()),
                Stats.median(pairs), kAll.length, Stats.median(bAll) / Stats.median(kAll),
                Stats.median(kCpu), other, Stats.median(bCpu),
                Stats.median(bCpu) / Stats.median(kCpu)));
        s.append("  program counters (cross-check): ").append(bpfCounters);
        return s.toString();
    }
}
