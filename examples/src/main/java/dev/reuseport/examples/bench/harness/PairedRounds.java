package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A rate with a feature OFF and ON, measured for a ratio that one noisy round cannot move: warm-up rounds
 * of both sides first (discarded: the JIT, the receive buffers, the program's maps settle), then pairs of
 * rounds in ABBA order (OFF,ON then ON,OFF, ...: each side is first as often as second, and a slow drift of
 * the machine's load cancels within a pair), each round counted only after a settle time past the switch
 * (datagrams queued under the other side drain first). The ratio is the median of the per-pair ratios
 * ON/OFF (each pair's two rounds saw nearly the same machine); the ratio of the medians is given beside it,
 * with the pair ratios' spread. One row per pair: both rounds' rates, the pair's ratio, the machine's idle
 * time and this JVM's CPU.
 */
public final class PairedRounds {
    /** What a round switches. */
    public interface Toggle {
        /**
         * Before a round: the feature on or off (the round is counted from {@code settle} later).
         *
         * @param on whether the feature is on
         * @throws Exception when the switch fails
         */
        void begin(boolean on) throws Exception;
    }

    /**
     * The figures of a run.
     *
     * @param pairRatio      the median of the per-pair ratios ON/OFF (the figure to report)
     * @param ratioOfMedians median(ON) / median(OFF)
     * @param off            the median OFF rate, per second
     * @param on             the median ON rate, per second
     * @param min            the smallest pair ratio
     * @param q1             the pair ratios' lower quartile
     * @param q3             the pair ratios' upper quartile
     * @param max            the largest pair ratio
     * @param ratios         every pair's ratio, in order
     */
    public record Outcome(double pairRatio, double ratioOfMedians, double off, double on, double min, double q1,
                          double q3, double max, List<Double> ratios) {
    }

    private PairedRounds() {
    }

    /**
     * Runs a discarded warm-up round of each side (OFF, then ON; none when {@code warmupNanos} is 0) and
     * {@code pairs} pairs of rounds.
     *
     * @param out        where the table goes
     * @param warmupNanos each side's warm-up round (0: none)
     * @param pairs      measured pairs (1 or more)
     * @param roundNanos a round's counted time
     * @param settleNanos the time after each switch before the round counts
     * @param completed  a running counter of what is measured
     * @param toggle     switches the feature
     * @param progress   a line per pair
     * @return the figures
     * @throws Exception when a switch fails
     */
    public static Outcome run(PrintWriter out, long warmupNanos, int pairs, long roundNanos, long settleNanos,
                              LongSupplier completed, Toggle toggle, Progress progress) throws Exception {
        if (pairs < 1 || warmupNanos < 0 || roundNanos <= 0 || settleNanos < 0) {
            throw new IllegalArgumentException("pairs " + pairs + ", warm-up " + warmupNanos + " ns, round "
                    + roundNanos + " ns, settle " + settleNanos + " ns; accepted: pairs 1+, warm-up 0+, round > 0, "
                    + "settle 0+");
        }
        for (int w = 0; warmupNanos > 0 && w < 2; w++) {
            boolean on = w == 1;
            double r = round(on, warmupNanos, settleNanos, completed, toggle)[0];
            out.printf(Locale.ROOT, "  warm-up %d %-3s %10.0f/s (discarded)%n", w + 1, on ? "ON" : "OFF", r);
            out.flush();
        }
        out.printf("  %-5s %-7s %10s %10s %7s %7s %7s%n", "pair", "order", "OFF /s", "ON /s", "ON/OFF", "idle%",
                "ours%");
        List<Double> on = new ArrayList<>();
        List<Double> off = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            boolean[] order = p % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false};
            double[] rate = new double[2];
            double idle = 0;
            double ours = 0;
            for (boolean feature : order) {
                double[] r = round(feature, roundNanos, settleNanos, completed, toggle);
                rate[feature ? 1 : 0] = r[0];
                idle += r[1] / 2;
                ours += r[2] / 2;
            }
            off.add(rate[0]);
            on.add(rate[1]);
            double ratio = rate[0] > 0 ? rate[1] / rate[0] : Double.NaN;
            ratios.add(ratio);
            out.printf(Locale.ROOT, "  %-5d %-7s %10.0f %10.0f %7.3f %7s %7s%n", p + 1, p % 2 == 0 ? "OFF,ON"
                    : "ON,OFF", rate[0], rate[1], ratio, Stats.fmt(idle, 1), Stats.fmt(ours, 1));
            out.flush();
            progress.phase(String.format(Locale.ROOT, "pair %d/%d: ON/OFF %.3f (median so far %.3f)", p + 1, pairs,
                    ratio, Stats.median(ratios)));
        }
        List<Double> sorted = new ArrayList<>(ratios);
        sorted.sort(Double::compare);
        Outcome o = new Outcome(Stats.median(ratios), Stats.median(on) / Stats.median(off), Stats.median(off),
                Stats.median(on), sorted.get(0), quantile(sorted, 0.25), quantile(sorted, 0.75),
                sorted.get(sorted.size() - 1), List.copyOf(ratios));
        out.printf(Locale.ROOT, "  pair ratios ON/OFF: median %.3f (quartiles %.3f..%.3f, range %.3f..%.3f); "
                + "ratio of medians %.3f (OFF %.0f/s, ON %.0f/s)%n", o.pairRatio(), o.q1(), o.q3(), o.min(), o.max(),
                o.ratioOfMedians(), o.off(), o.on());
        out.flush();
        return o;
    }

    /** One round: {rate per second, machine idle %, this JVM's CPU %}. */
    private static double[] round(boolean on, long roundNanos, long settleNanos, LongSupplier completed,
                                  Toggle toggle) throws Exception {
        toggle.begin(on);
        Timing.sleepUntil(System.nanoTime() + settleNanos);
        CpuSample c0 = CpuSample.now();
        long n0 = completed.getAsLong();
        Timing.sleepUntil(c0.wallNanos() + roundNanos);
        long n1 = completed.getAsLong();
        CpuSample c1 = CpuSample.now();
        return new double[] {(n1 - n0) / c0.seconds(c1), c0.idlePct(c1), c0.oursPct(c1)};
    }

    /** The {@code q} quantile of sorted values, interpolated between ranks. */
    static double quantile(List<Double> sorted, double q) {
        double pos = q * (sorted.size() - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.size() - 1, lo + 1);
        return sorted.get(lo) + (sorted.get(hi) - sorted.get(lo)) * (pos - lo);
    }
}
