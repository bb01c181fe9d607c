package dev.reuseport.examples.bench.harness;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A phase of operations under load: {@link ConnLoad} runs against a target while the phase's operations
 * (restarts, resizes, hand-offs) run one after another; what it counted, the kernel counters over it,
 * and where on the operations' time line each failure fell.
 */
public final class LoadedPhase {
    /** Load before the first and after the last operation of a phase. */
    public static final long SETTLE_MILLIS = 300;
    /** No in-process phase runs its operations longer than this; the ones left are skipped and reported. */
    public static final long PHASE_BUDGET_MILLIS = 60_000;
    /** The kernel counters reported per phase. */
    public static final List<String> COUNTERS = List.of("TcpExt.TCPMigrateReqSuccess", "TcpExt.TCPMigrateReqFailure",
            "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPAbortOnClose", "Tcp.OutRsts",
            "Tcp.EstabResets", "Tcp.AttemptFails");

    /** One operation of a phase (a restart, a resize, a hand-off). */
    @FunctionalInterface
    public interface Op {
        /** Runs operation number {@code index} (from 0). */
        void run(int index) throws Exception;
    }
    public final String name;
    public final String what;
    public final int planned;
    public int ops;
    public boolean opFailed;
    public long start;
    public long end;
    public ConnLoad load;
    public final List<long[]> opTimes = new ArrayList<>();
    public final List<String> notes = new ArrayList<>();
    public final List<String> opNotes = new ArrayList<>();
    public final Map<String, Long> counters = new LinkedHashMap<>();
    public final Map<String, Long> serverErrors = new TreeMap<>();

    public LoadedPhase(String name, String what, int planned) {
        this.name = name;
        this.what = what;
        this.planned = planned;
    }

    public long total() {
        return load == null ? 0 : load.ok.sum() + load.failed.sum();
    }

    public long failed() {
        return load == null ? 0 : load.failed.sum();
    }

    public boolean complete() {
        return ops == planned && !opFailed;
    }

    public void report(PrintWriter out) {
        double secs = (end - start) / 1e9;
        out.printf("%s: %d of %d operations in %.1f s, %d connections (%.0f/s), %d failed%n", name, ops, planned,
                secs, total(), secs > 0 ? total() / secs : 0.0, failed());
        for (String n : notes) {
            out.println("  " + n);
        }
        if (!opTimes.isEmpty()) {
            Stats.Times d = Stats.Times.of(opTimes.stream().mapToLong(t -> t[1] - t[0]).toArray());
            out.printf("  operation time: median %.1f ms, max %.1f ms%n", d.medianMillis(), d.maxMillis());
        }
        StringBuilder c = new StringBuilder();
        counters.forEach((k, v) -> c.append(c.length() == 0 ? "" : ", ").append(k.substring(k.indexOf('.') + 1))
                .append(' ').append(v));
        out.println("  kernel counters (this namespace, during the phase): " + c);
        if (!serverErrors.isEmpty()) {
            out.println("  server-side errors: " + serverErrors);
        }
        if (load != null && failed() > 0) {
            out.println("  client failures by cause:");
            new TreeMap<>(load.snapshotReasons()).forEach((k, v) -> out.printf("    %6d  %s%n", v, k));
            attribute(out);
        }
    }

    /** Places each failure on the time line of the operations. */
    private void attribute(PrintWriter out) {
        List<ConnLoad.Failure> fs = new ArrayList<>(load.failures);
        fs.sort((a, b) -> Long.compare(a.nanos(), b.nanos()));
        int during = 0;
        int within100 = 0;
        int within1000 = 0;
        int other = 0;
        List<String> examples = new ArrayList<>();
        for (ConnLoad.Failure f : fs) {
            long[] op = null;
            int idx = -1;
            for (int i = 0; i < opTimes.size(); i++) {
                if (opTimes.get(i)[0] <= f.nanos()) {
                    op = opTimes.get(i);
                    idx = i;
                }
            }
            String where;
            if (op == null) {
                other++;
                where = "before the first operation";
            } else {
                long sinceStart = f.nanos() - op[0];
                long sinceEnd = f.nanos() - op[1];
                if (sinceEnd <= 0) {
                    during++;
                    where = String.format("during operation %d (%.1f ms into it; it took %.1f ms)",
                            idx + 1, sinceStart / 1e6, (op[1] - op[0]) / 1e6);
                } else {
                    if (sinceEnd <= 100_000_000L) {
                        within100++;
                    } else if (sinceEnd <= 1_000_000_000L) {
                        within1000++;
                    } else {
                        other++;
                    }
                    where = String.format("%.1f ms after operation %d ended", sinceEnd / 1e6, idx + 1);
                }
            }
            if (examples.size() < 5) {
                examples.add(String.format("+%.3f s: %s; seen %s; the request began %.1f ms before",
                        (f.nanos() - start) / 1e9, f.reason(), where, (f.nanos() - f.started()) / 1e6));
            }
        }
        out.printf("  when %d kept failures were seen: %d during an operation, %d within 100 ms after one, "
                + "%d within 1 s, %d elsewhere%n", fs.size(), during, within100, within1000, other);
        examples.forEach(e -> out.println("    " + e));
    }

    /**
     * Runs the load against {@code target}, and meanwhile {@code p.planned} operations, {@code minGap} to
     * {@code maxGap} ms apart, bounded by {@link #PHASE_BUDGET_MILLIS}.
     */
    public static void drive(PrintWriter out, Progress progress, LoadedPhase p, InetSocketAddress target, boolean halfClose, Op op,
                              int minGap, int maxGap) throws Exception {
        drive(out, progress, p, target, halfClose, op, minGap, maxGap, 0, PHASE_BUDGET_MILLIS);
    }

    /** As above; a positive {@code loadNice} lowers the load threads' priority by that much. */
    public static void drive(PrintWriter out, Progress progress, LoadedPhase p, InetSocketAddress target, boolean halfClose, Op op,
                              int minGap, int maxGap, int loadNice, long budgetMillis) throws Exception {
        out.printf("phase %-8s %d × %s against %s ...%n", p.name, p.planned, p.what, target);
        out.flush();
        progress.phase("phase " + p.name + ": " + p.planned + " x " + p.what);
        Map<String, Long> before = KernelCounters.read();
        ConnLoad load = new ConnLoad(target, halfClose);
        p.load = load;
        p.start = System.nanoTime();
        load.start(budgetMillis + 30_000);
        if (loadNice > 0) {
            int n = load.lowerPriority(loadNice);
            p.notes.add(n == ConnLoad.CLIENTS ? "the " + n + " load threads run at nice " + loadNice + " so that each new child "
                    + "JVM starts in seconds on this machine's CPUs; the load itself is unchanged"
                    : "could not renice the load threads (renice gave " + n + "); child JVMs start slowly under load");
        }
        try {
            Thread.sleep(SETTLE_MILLIS);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
            for (int i = 0; i < p.planned; i++) {
                if (System.nanoTime() > deadline) {
                    p.notes.add("phase budget of " + budgetMillis / 1000 + " s spent after " + i + " of "
                            + p.planned + " operations");
                    break;
                }
                int done = i;
                progress.tick(() -> "phase " + p.name + ": " + done + " of " + p.planned + " operations, "
                        + p.load.failed.sum() + " of " + (p.load.ok.sum() + p.load.failed.sum()) + " connections failed");
                long t0 = System.nanoTime();
                try {
                    op.run(i);
                } catch (Exception | Error e) {
                    p.opTimes.add(new long[] {t0, System.nanoTime()});
                    p.notes.add("operation " + (i + 1) + " failed, phase stopped: " + e);
                    p.opFailed = true;
                    break;
                }
                p.opTimes.add(new long[] {t0, System.nanoTime()});
                p.ops++;
                if (maxGap > 0) {
                    Thread.sleep(ThreadLocalRandom.current().nextInt(minGap, maxGap + 1));
                }
            }
            Thread.sleep(SETTLE_MILLIS);
        } finally {
            load.stop();
            p.end = System.nanoTime();
            p.load = load;
            Map<String, Long> after = KernelCounters.read();
            for (String k : COUNTERS) {
                if (before.containsKey(k) && after.containsKey(k)) {
                    p.counters.put(k, after.get(k) - before.get(k));
                }
            }
        }
        out.printf("phase %-8s done: %d operations, %d connections, %d failed, %.1f s%n", p.name, p.ops, p.total(),
                p.failed(), (p.end - p.start) / 1e9);
        out.flush();
    }

}
