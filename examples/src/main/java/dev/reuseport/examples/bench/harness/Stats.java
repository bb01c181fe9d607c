package dev.reuseport.examples.bench.harness;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.HdrHistogram.DoubleHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

/**
 * The statistics every scenario reports, over HdrHistogram: medians of rounds (rates, ratios, CPU %)
 * through a {@link DoubleHistogram}, times (operation durations) through a {@link Histogram} of
 * microseconds; and the small figures of a spread (sum, max/mean). Four significant digits: a median
 * printed with three decimals or as a whole rate of up to five digits reads as the exact one would.
 */
public final class Stats {
    /** Significant decimal digits the histograms keep. */
    static final int DIGITS = 4;

    private Stats() {
    }

    /**
     * The median of {@code values} (the mean of the two middle ones for an even count); NaN when there
     * are none or one of them is NaN. Negative values are not rates and are refused.
     */
    public static double median(double... values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        DoubleHistogram h = new DoubleHistogram(DIGITS);
        for (double v : values) {
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                return Double.NaN;
            }
            if (v < 0) {
                throw new IllegalArgumentException("median of a negative value " + v + "; accepted: 0 or more");
            }
            h.recordValue(v);
        }
        long n = h.getTotalCount();
        double lower = valueAtRank(h, (n - 1) / 2);
        return n % 2 == 1 ? lower : (lower + valueAtRank(h, n / 2)) / 2;
    }

    /** As {@link #median(double...)} over a list. */
    public static double median(List<Double> values) {
        return median(values.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** The value of rank {@code rank} (0 = smallest) as the histogram holds it (the middle of its bucket). */
    private static double valueAtRank(DoubleHistogram h, long rank) {
        long seen = 0;
        for (var v : h.recordedValues()) {
            seen += v.getCountAtValueIteratedTo();
            if (seen > rank) {
                return h.medianEquivalentValue(v.getValueIteratedTo());
            }
        }
        throw new IllegalStateException("rank " + rank + " beyond " + h.getTotalCount() + " values");
    }

    /** Durations, recorded in nanoseconds and kept in microseconds; read back in milliseconds. */
    public static final class Times {
        private final Histogram micros = new Histogram(DIGITS);

        /** Records one duration in nanoseconds (negative counts as 0). */
        public void record(long nanos) {
            micros.recordValue(Math.max(0, nanos / 1000));
        }

        /** How many durations were recorded. */
        public long count() {
            return micros.getTotalCount();
        }

        /** The median in milliseconds (the upper middle for an even count); 0 when empty. */
        public double medianMillis() {
            long n = micros.getTotalCount();
            if (n == 0) {
                return 0;
            }
            long rank = n / 2;
            long seen = 0;
            for (HistogramIterationValue v : micros.recordedValues()) {
                seen += v.getCountAtValueIteratedTo();
                if (seen > rank) {
                    return micros.medianEquivalentValue(v.getValueIteratedTo()) / 1e3;
                }
            }
            return micros.getMaxValue() / 1e3;
        }

        /** The longest in milliseconds; 0 when empty. */
        public double maxMillis() {
            return micros.getTotalCount() == 0 ? 0 : micros.getMaxValue() / 1e3;
        }

        /** Durations of {@code nanos}. */
        public static Times of(long... nanos) {
            Times t = new Times();
            for (long n : nanos) {
                t.record(n);
            }
            return t;
        }
    }

    /** The sum of {@code v}. */
    public static long sum(long[] v) {
        long s = 0;
        for (long x : v) {
            s += x;
        }
        return s;
    }

    /** Max over mean of per-worker counts: 1.0 is a perfect spread; NaN when all are 0. */
    public static double maxOverMean(long[] counts) {
        long total = sum(counts);
        if (total == 0) {
            return Double.NaN;
        }
        long max = Arrays.stream(counts).max().orElse(0);
        return max / ((double) total / counts.length);
    }

    /** {@code v} with {@code digits} decimals, or {@code n/a} for NaN. */
    public static String fmt(double v, int digits) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    /** A list of figures, three decimals below 10 and one above: {@code [1.234 56.7]}. */
    public static String list(List<Double> v) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < v.size(); i++) {
            b.append(i == 0 ? "" : " ").append(fmt(v.get(i), v.get(i) < 10 ? 3 : 1));
        }
        return b.append(']').toString();
    }
}
