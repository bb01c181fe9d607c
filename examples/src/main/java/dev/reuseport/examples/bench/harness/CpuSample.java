package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU use of the whole machine ({@code /proc/stat}) and of this JVM at one instant; two samples give the
 * shares over the interval between them, each as % of all CPUs. -1 marks what could not be read.
 *
 * @param busyJiffies the machine's busy time (all but idle and iowait), in USER_HZ ticks
 * @param idleJiffies the machine's idle and iowait time, in USER_HZ ticks
 * @param processNanos this JVM's CPU time
 * @param wallNanos {@link System#nanoTime()} at the sample
 */
public record CpuSample(long busyJiffies, long idleJiffies, long processNanos, long wallNanos) {
    /** Ticks per second of the /proc/stat counters (USER_HZ). */
    private static final double NANOS_PER_JIFFY = 1e7;

    /** A sample now. */
    public static CpuSample now() {
        long busy;
        long idle;
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < f.length && i <= 8; i++) {
                total += Long.parseLong(f[i]);
            }
            idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
            busy = total - idle;
        } catch (IOException | RuntimeException e) {
            busy = -1;
            idle = -1;
        }
        long proc = -1;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            proc = os.getProcessCpuTime();
        }
        return new CpuSample(busy, idle, proc, System.nanoTime());
    }

    /** This JVM's CPU time from this sample to {@code b}, as % of all CPUs (softirq work in its threads included). */
    public double oursPct(CpuSample b) {
        if (processNanos < 0 || b.processNanos < 0) {
            return Double.NaN;
        }
        return 100.0 * (b.processNanos - processNanos) / wall(b);
    }

    /** The rest of the machine's busy time from this sample to {@code b} (other processes), % of all CPUs. */
    public double othersPct(CpuSample b) {
        if (busyJiffies < 0 || b.busyJiffies < 0) {
            return 0;
        }
        double busy = (b.busyJiffies - busyJiffies) * NANOS_PER_JIFFY;
        return Math.max(0, 100.0 * busy / wall(b) - oursPct(b));
    }

    /** The machine's idle share from this sample to {@code b}, % of all CPUs; NaN when unreadable. */
    public double idlePct(CpuSample b) {
        if (idleJiffies < 0 || b.idleJiffies < 0) {
            return Double.NaN;
        }
        return Math.min(100, 100.0 * (b.idleJiffies - idleJiffies) * NANOS_PER_JIFFY / wall(b));
    }

    /** This JVM's CPU seconds from this sample to {@code b}. */
    public double processSeconds(CpuSample b) {
        return (b.processNanos - processNanos) / 1e9;
    }

    /** Wall seconds from this sample to {@code b}. */
    public double seconds(CpuSample b) {
        return (b.wallNanos - wallNanos) / 1e9;
    }

    private double wall(CpuSample b) {
        return (double) (b.wallNanos - wallNanos) * Runtime.getRuntime().availableProcessors();
    }
}
