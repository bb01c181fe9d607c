package dev.reuseport.examples.bench.harness;

import dev.reuseport.Controller;
import dev.reuseport.GroupMetrics;
import dev.reuseport.WorkerMetrics;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The controller driven window by window ({@link Controller#tick()} at fixed boundaries), one table row per
 * window (state, imbalance, shadow prediction, drops, worst p99, datagrams per worker, the transition and
 * its reason); a regression injected after {@code enforceWindows} ENFORCE windows; stops after
 * {@code afterWindows} FALLBACK windows or when the incident stalls. A window is disturbed when its rates do
 * not cover exactly its own window (another reader, a scrape, ended it).
 */
public final class ControllerWindows {
    /** The run's bounds. */
    public record Plan(Duration window, int k, int maxWindows, int enforceWindows, int afterWindows) {
    }

    public final List<Double> observe = new ArrayList<>();
    public final List<Double> shadow = new ArrayList<>();
    public final List<Double> enforce = new ArrayList<>();
    public final List<String> transitions = new ArrayList<>();
    public final Map<String, long[]> flowMatrix = new HashMap<>();
    public int injectedAt = -1;
    public int fallbackAt = -1;
    public String stop = "max windows reached";
    public int checked;
    public int disturbed;

    private ControllerWindows() {
    }

    /** Runs the windows; {@code flowSlot} counts datagrams per flow and worker, {@code inject} injects. */
    public static ControllerWindows run(PrintWriter out, Progress progress, Controller c, Supplier<String> lastReason,
                                        Supplier<long[]> flowSlot, Runnable inject, Plan plan) throws Exception {
        ControllerWindows r = new ControllerWindows();
        r.loop(out, progress, c, lastReason, flowSlot, inject, plan);
        return r;
    }

    private void loop(PrintWriter out, Progress progress, Controller c, Supplier<String> lastReason,
                      Supplier<long[]> flowSlot, Runnable inject, Plan plan) throws Exception {
        out.println();
        out.println("per window: the state it ran in; imbalance = max/mean of per-worker datagram rates (observed); "
                + "shadow = the candidate's predicted max/mean (SHADOW only); drops = kernel drops in the window; "
                + "p99 = the worst worker's p99");
        out.printf("%3s %-8s %9s %9s %6s %8s  %-39s  %s%n", "win", "state", "imbalance", "shadow", "drops",
                "p99(us)", "datagrams per worker w0..w7", "transition at the end of the window");
                                            long[] prevFlow = flowSlot.get();
        long[] prevRecv = new long[64 * 1024];
        long prevDrops = 0;
        int enforceSeen = 0;
        int afterFallback = 0;
        long t0 = System.nanoTime();
        progress.phase("incident: windows of " + plan.window().toMillis() + " ms");
        for (int w = 1; w <= plan.maxWindows(); w++) {
            Controller.State now = c.state();
            progress.tick(() -> "incident: state " + now);
            Timing.sleepUntil(t0 + w * plan.window().toNanos());
            Controller.State before = c.state();
            GroupMetrics m = c.tick();
            Controller.State after = c.state();
            long[] fs = flowSlot.get();
            long[] acc = flowMatrix.computeIfAbsent(before.name(), s -> new long[fs.length]);
            for (int i = 0; i < fs.length; i++) {
                acc[i] += fs[i] - prevFlow[i];
            }
            prevFlow = fs;
            StringBuilder per = new StringBuilder();
            boolean covered = true; // its rates cover exactly its own window: no scrape ended it
            for (WorkerMetrics wm : m.workers()) {
                long delta = wm.received() - prevRecv[wm.slot()];
                covered &= w == 1 || Math.abs(wm.rate() * m.windowSeconds() - delta) <= 1.0;
                per.append(String.format("%4d ", wm.received() - prevRecv[wm.slot()]));
                prevRecv[wm.slot()] = wm.received();
            }
            if (w > 1) {
                checked++;
                disturbed += covered ? 0 : 1;
            }
            long drops = m.drops() - prevDrops;
            prevDrops = m.drops();
            long p99 = m.workers().stream().mapToLong(WorkerMetrics::p99Micros).max().orElse(0);
            String tr = "";
            if (after != before) {
                String reason = lastReason.get();
                tr = "-> " + after + " (" + reason + ")";
                transitions.add(before + "->" + after);
            }
            switch (before) {
                case OBSERVE -> observe.add(m.imbalance());
                case SHADOW -> shadow.add(m.shadowImbalance());
                case ENFORCE -> {
                    enforce.add(m.imbalance());
                    enforceSeen++;
                }
                default -> { }
            }
            if (injectedAt < 0 && after == Controller.State.ENFORCE && enforceSeen >= plan.enforceWindows()) {
                inject.run();
                injectedAt = w;
                tr = tr.isEmpty() ? "** regression injected from here on (recorded latency x10 while the "
                        + "candidate steers)" : tr;
            }
            out.printf(Locale.ROOT, "%3d %-8s %9.3f %9s %6d %8d  %-39s  %s%n", w, before, m.imbalance(),
                    before == Controller.State.SHADOW ? Stats.fmt(m.shadowImbalance(), 3) : "-", drops, p99,
                    per.toString().trim(), tr);
            out.flush();
            if (after == Controller.State.FALLBACK && before != Controller.State.FALLBACK) {
                fallbackAt = w;
            }
            if (fallbackAt > 0 && before == Controller.State.FALLBACK && ++afterFallback >= plan.afterWindows()) {
                stop = "done";
                break;
            }
            if (before == Controller.State.OBSERVE && after == Controller.State.OBSERVE && observe.size() >= 4 * plan.k() + 4) {
                stop = "OBSERVE never triggered";
                break;
            }
            if (before == Controller.State.SHADOW && after == Controller.State.SHADOW && shadow.size() >= 4 * plan.k() + 4) {
                stop = "SHADOW never moved to ENFORCE";
                break;
            }
            if (injectedAt > 0 && fallbackAt < 0 && w - injectedAt >= 3 * plan.k() + 2) {
                stop = "no FALLBACK after the injected regression";
                break;
            }
        }
    }

    /** How the run ended, and the controller's OBSERVE baseline ({@link Controller#baseline()}). */
    public void report(PrintWriter out, int k, double[] base) {
        out.println();
        if (!stop.equals("done")) {
            out.println("NOTE the scenario stopped early: " + stop);
        }
        if (fallbackAt > 0 && injectedAt > 0) {
            out.printf("regression injected at the end of window %d; FALLBACK at the end of window %d: %d "
                    + "window(s) later (K=%d)%n", injectedAt, fallbackAt, fallbackAt - injectedAt, k);
        } else if (fallbackAt > 0) {
            out.printf("NOTE FALLBACK at the end of window %d, before any regression was injected%n", fallbackAt);
        }
        out.printf(Locale.ROOT, "OBSERVE baseline (controller): drops/window %.1f, worst p99 %.0f us, setup failures "
                + "%.1f%n", base[0], base[1], base[2]);
    }
}
