package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Pairs of rounds of one load with a feature OFF and ON, alternating the order (OFF,ON then ON,OFF, ...),
 * the rate of each round taken from a running counter: one row per pair (rates, ratio, machine idle and
 * this JVM's CPU, rate per CPU-second of this JVM), and the ratio median(ON) / median(OFF).
 */
public final class ToggleRounds {
    /** What a round switches. */
    public interface Toggle {
        /** Before a round: the feature on or off. */
        void begin(boolean on) throws Exception;

        /** After a round: back to off; returns a short figure for the row (e.g. ticks), or "". */
        String end(boolean on) throws Exception;
    }

    /** The medians over the pairs. */
    public record Outcome(double off, double on, double ratio, double pairRatio, double offPerCpu, double onPerCpu) {
    }

    private ToggleRounds() {
    }

    /** Runs {@code pairs} pairs of {@code roundNanos} rounds, counting {@code completed}; prints a row per pair. */
    public static Outcome run(PrintWriter out, int pairs, long roundNanos, LongSupplier completed, String extraHeader,
                              Toggle toggle, Progress progress) throws Exception {
        out.printf("  %-5s %-7s %10s %10s %7s %6s %8s %8s %8s %8s%n", "pair", "order", "OFF c/s", "ON c/s", "ON/OFF",
                extraHeader, "idle%", "ours%", "OFF/cpu", "ON/cpu");
        List<Double> on = new ArrayList<>();
        List<Double> off = new ArrayList<>();
        List<Double> onCpu = new ArrayList<>();
        List<Double> offCpu = new ArrayList<>();
        List<Double> pairRatio = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            boolean[] order = p % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false};
            double[] rate = new double[2];
            double[] perCpu = new double[2];
            double idle = 0;
            double ours = 0;
            String extra = "";
            for (boolean feature : order) {
                CpuSample cpu0 = CpuSample.now();
                long n0 = completed.getAsLong();
                toggle.begin(feature);
                Timing.sleepUntil(cpu0.wallNanos() + roundNanos);
                String e = toggle.end(feature);
                extra = feature ? e : extra;
                long n1 = completed.getAsLong();
                CpuSample cpu1 = CpuSample.now();
                int x = feature ? 1 : 0;
                rate[x] = (n1 - n0) / cpu0.seconds(cpu1);
                perCpu[x] = (n1 - n0) / Math.max(1e-9, cpu0.processSeconds(cpu1));
                idle += cpu0.idlePct(cpu1) / 2;
                ours += cpu0.oursPct(cpu1) / 2;
            }
            off.add(rate[0]);
            on.add(rate[1]);
            offCpu.add(perCpu[0]);
            onCpu.add(perCpu[1]);
            pairRatio.add(rate[1] / rate[0]);
            out.printf(Locale.ROOT, "  %-5d %-7s %10.0f %10.0f %7.3f %6s %8s %8s %8.0f %8.0f%n", p + 1,
                    p % 2 == 0 ? "OFF,ON" : "ON,OFF", rate[0], rate[1], rate[1] / rate[0], extra, Stats.fmt(idle, 1),
                    Stats.fmt(ours, 1), perCpu[0], perCpu[1]);
            out.flush();
            int done = p + 1;
            progress.tick(() -> "pair " + done + "/" + pairs);
        }
        return new Outcome(Stats.median(off), Stats.median(on), Stats.median(on) / Stats.median(off),
                Stats.median(pairRatio), Stats.median(offCpu), Stats.median(onCpu));
    }
}
