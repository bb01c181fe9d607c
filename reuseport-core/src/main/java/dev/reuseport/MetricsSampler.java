package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * Turns a group's counters into windows: each {@link #sample()} covers the time since the previous
 * one of this sampler (the controller and the operator each have their own, so neither shortens the
 * other's window); the first covers the time since the group opened.
 */
public final class MetricsSampler {
    private static final String[] NETSTAT = {"TCPMigrateReqSuccess", "TCPMigrateReqFailure", "ListenOverflows",
        "ListenDrops"};

    private final ReuseportGroup group;
    private long lastNanos;
    private final Map<Integer, long[]> last = new HashMap<>();
    private final Map<Integer, Histogram> lastLatency = new HashMap<>();

    MetricsSampler(ReuseportGroup group) {
        this.group = group;
        this.lastNanos = group.openedNanos();
    }

    /**
     * Ends this sampler's window and starts the next: reads every worker's kernel counters
     * ({@code TCP_INFO}, {@code SO_MEMINFO}), the steering program's counters and the latencies recorded
     * with {@link Worker#recordLatency(long)}, and turns them into rates over the window.
     *
     * @return the window since this sampler's previous sample (the first: since the group opened)
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a kernel counter cannot be read
     */
    public synchronized GroupMetrics sample() throws IOException {
        long now = System.nanoTime();
        double secs = Math.max(1e-6, (now - lastNanos) / 1e9);
        lastNanos = now;
        List<WorkerStats> stats = group.stats();
        List<SteerProgram.SlotCounters> bpf = group.steeringCounters();
        List<WorkerMetrics> out = new ArrayList<>();
        List<Double> rates = new ArrayList<>();
        List<Double> shadowRates = new ArrayList<>();
        List<Long> p99s = new ArrayList<>();
        for (WorkerStats s : stats) {
            SteerProgram.SlotCounters c = s.slot() < bpf.size() ? bpf.get(s.slot())
                    : new SteerProgram.SlotCounters(0, 0, 0, 0);
            long traffic = s.accepted() + s.received();
            long[] prev = last.getOrDefault(s.slot(), new long[2]);
            double rate = (traffic - prev[0]) / secs;
            double shadowRate = (c.shadow() - prev[1]) / secs;
            last.put(s.slot(), new long[] {traffic, c.shadow()});
            Histogram total = group.worker(s.slot()).latencySnapshot();
            Histogram window = total.copy();
            Histogram before = lastLatency.get(s.slot());
            if (before != null) {
                window.subtract(before);
            }
            lastLatency.put(s.slot(), total);
            long n = window.getTotalCount();
            long p99 = n == 0 ? 0 : window.getValueAtPercentile(99);
            out.add(new WorkerMetrics(s.slot(), s.accepted(), s.received(), rate, s.queueDepth(), s.queueLimit(),
                    s.drops(), c.selected(), c.shadow(), shadowRate, c.migrated(), c.fallback(),
                    n == 0 ? 0 : window.getValueAtPercentile(50), p99, n == 0 ? 0 : window.getValueAtPercentile(99.9), n));
            rates.add(rate);
            shadowRates.add(shadowRate);
            if (n > 0) {
                p99s.add(p99);
            }
        }
        return new GroupMetrics(System.currentTimeMillis(), secs, group.policy().spec(), group.tableVersion(),
                group.controllerState().shown(), out, maxOverMean(rates), maxOverMean(shadowRates), divergence(p99s),
                group.restarts(), netstat());
    }

    /** max/mean of {@code v}; 0 when the sum is 0. */
    static double maxOverMean(List<Double> v) {
        double sum = 0;
        double max = 0;
        for (double d : v) {
            sum += d;
            max = Math.max(max, d);
        }
        return sum <= 0 ? 0 : max / (sum / v.size());
    }

    private static double divergence(List<Long> p99s) {
        if (p99s.isEmpty()) {
            return 0;
        }
        long[] s = p99s.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(s);
        double median = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
        return median <= 0 ? 0 : s[s.length - 1] / median;
    }

    /** The namespace's migration and listen-drop counters from /proc/net/netstat. */
    static Map<String, Long> netstat() {
        Map<String, Long> out = new LinkedHashMap<>();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
            for (int i = 0; i + 1 < lines.size(); i += 2) {
                String[] k = lines.get(i).split("\\s+");
                String[] v = lines.get(i + 1).split("\\s+");
                for (int j = 1; j < k.length && j < v.length; j++) {
                    for (String want : NETSTAT) {
                        if (k[j].equals(want)) {
                            out.put(want, Long.parseLong(v[j]));
                        }
                    }
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux procfs: no netstat figures
        }
        return out;
    }
}
