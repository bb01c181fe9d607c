package dev.reuseport.examples.bench.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * The machine's own floor for a woken thread, measured beside a benchmark: a child JVM whose one thread, at
 * the priority it is given (bench soak: one SCHED_RR priority above the control threads), does nothing but
 * sleep {@value #PERIOD_MICROS} us at a time and count how late each wake-up is. Nothing of the library runs
 * in it, so a late wake-up there is the kernel or the hypervisor (a CPU held in a non-preemptible stretch, a
 * vCPU not running), and a control request's round trip, which needs several wake-ups, cannot be counted on
 * below it.
 */
public final class WakeSampler implements AutoCloseable {
    /** How long each sleep is. */
    public static final int PERIOD_MICROS = 500;
    /** Lateness is counted per microsecond up to this; later wake-ups in the last bucket (and in the maximum). */
    private static final int BUCKETS = 200_000;

    private final ChildJvm child;

    private WakeSampler(ChildJvm child) {
        this.child = child;
    }

    /** What the sampler saw: wake-ups, their lateness in microseconds. */
    public record Report(long wakes, long p50, long p99, long max, long over1ms, long maxAt) {
        /**
         * The report's line ({@code WAKE <wakes> <p50> <p99> <max> <over1ms> <maxAt>}), parsed; null when it is
         * not one.
         */
        static Report parse(String line) {
            String[] w = line.trim().split(" ");
            if (w.length != 6) {
                return null;
            }
            try {
                long[] v = new long[6];
                for (int i = 0; i < 6; i++) {
                    v[i] = Long.parseLong(w[i]);
                }
                return new Report(v[0], v[1], v[2], v[3], v[4], v[5]);
            } catch (NumberFormatException e) {
                return null;
            }
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d wake-ups of a %d us sleep, late (us): p50 %d, p99 %d, max %d "
                    + "(at nanoTime %d); %d later than 1 ms", wakes, PERIOD_MICROS, p50, p99, max, maxAt, over1ms);
        }
    }

    /**
     * Starts the sampler's JVM; it samples until {@link #stop()}.
     *
     * @param realtime SCHED_RR priority of its thread (1..99), 0 for nice -10 (the control socket's default)
     * @return the running sampler
     * @throws IOException when the child does not start
     */
    public static WakeSampler start(int realtime) throws IOException {
        if (realtime < 0 || realtime > 99) {
            throw new IllegalArgumentException("realtime priority " + realtime + "; accepted: 0 (nice -10) or 1..99");
        }
        java.util.List<String> jvm = new java.util.ArrayList<>(List.of("-Xms64m", "-Xmx64m", "-XX:+UseSerialGC"));
        String extra = System.getProperty("soak.samplerOptions"); // diagnostics, e.g. -Xlog:safepoint
        if (extra != null && !extra.isBlank()) {
            jvm.addAll(List.of(extra.trim().split("\\s+")));
        }
        return new WakeSampler(ChildJvm.startMain(jvm,
                System.getProperty("java.class.path"), WakeSampler.class.getName(), Integer.toString(realtime)));
    }

    /** The priority the sampler's thread got ({@code rr<N>}, {@code nice-10}, or what refused it). */
    public String priority() {
        return child.ready();
    }

    /**
     * Stops sampling and returns what it saw.
     *
     * @return the report
     * @throws IOException when the child ends without one
     */
    public Report stop() throws IOException {
        String line = child.ask("stop", "WAKE ");
        Report r = Report.parse(line);
        if (r == null) {
            throw new IOException("wake sampler answered '" + line + "'; expected WAKE and six numbers");
        }
        return r;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        child.close();
    }

    /**
     * The child: {@code <realtime>}; prints {@code READY <priority>}, samples until a line ({@code stop}) or
     * the end of standard input, then prints {@code WAKE <wakes> <p50> <p99> <max> <over1ms> <maxAt>}
     * (microseconds; the moment of the latest wake-up in {@link System#nanoTime()}, CLOCK_MONOTONIC).
     */
    public static void main(String[] args) throws IOException {
        int realtime = Integer.parseInt(args[0]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        Thread sampler = Thread.currentThread();
        Thread stopper = new Thread(() -> {
            try {
                in.readLine();
            } catch (IOException e) {
                // end of input all the same
            }
            sampler.interrupt();
        }, "wake-sampler-stop");
        stopper.setDaemon(true);
        long[] late = new long[BUCKETS];
        long max = 0;
        long maxAt = 0;
        long wakes = 0;
        // a warm-up so that the loop is compiled before it counts
        for (int i = 0; i < 2_000; i++) {
            LockSupport.parkNanos(1_000);
        }
        // start-up's garbage collected now: the loop allocates nothing, so no collection (whose VM thread runs
        // at the default priority, 63-77 ms on this loaded machine) stops it while it counts
        System.gc();
        stopper.start(); // before the priority: a thread takes its creator's scheduling
        // the priority last, so that start-up (class loading, compiling, that collection) does not run at it
        String priority;
        try {
            dev.reuseport.ThreadPriority.set(dev.reuseport.ControlSocket.DEFAULT_SERVING_NICE, realtime);
            priority = realtime > 0 ? "rr" + realtime : "nice" + dev.reuseport.ControlSocket.DEFAULT_SERVING_NICE;
        } catch (IOException | RuntimeException e) {
            priority = "inherited(" + e.getMessage().replace(' ', '_') + ")";
        }
        System.out.println("READY " + priority);
        System.out.flush();
        long period = PERIOD_MICROS * 1_000L;
        // bounded: at most an hour of samples, and it ends with its input
        for (long i = 0; i < 3_600_000_000L / PERIOD_MICROS && !Thread.interrupted(); i++) {
            long target = System.nanoTime() + period;
            long left;
            while ((left = target - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted()) {
                LockSupport.parkNanos(left);
            }
            if (Thread.currentThread().isInterrupted()) {
                break;
            }
            long now = System.nanoTime();
            long us = (now - target) / 1_000;
            late[(int) Math.min(us, BUCKETS - 1)]++;
            if (us > max) {
                max = us;
                maxAt = now;
            }
            wakes++;
        }
        System.out.println("WAKE " + wakes + " " + percentile(late, wakes, 0.50) + " " + percentile(late, wakes, 0.99)
                + " " + max + " " + above(late, 1_000) + " " + maxAt);
        System.out.flush();
    }

    /** The smallest lateness (us) at or under which at least {@code q} of the {@code n} wake-ups fell. */
    static long percentile(long[] counts, long n, double q) {
        long need = (long) Math.ceil(q * n);
        long seen = 0;
        for (int us = 0; us < counts.length; us++) {
            seen += counts[us];
            if (seen >= need && seen > 0) {
                return us;
            }
        }
        return 0;
    }

    /** Wake-ups later than {@code us}. */
    static long above(long[] counts, int us) {
        long n = 0;
        for (int i = us + 1; i < counts.length; i++) {
            n += counts[i];
        }
        return n;
    }
}
