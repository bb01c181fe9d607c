package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Controller;
import dev.reuseport.GroupMetrics;
import dev.reuseport.MetricsSampler;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.Worker;
import dev.reuseport.WorkerMetrics;
import dev.reuseport.examples.bench.harness.CpuSample;
import dev.reuseport.examples.bench.harness.Flows;
import dev.reuseport.examples.bench.harness.MetricsTicker;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.examples.bench.harness.TcpClients;
import dev.reuseport.examples.bench.harness.TcpEcho;
import dev.reuseport.examples.bench.harness.Timing;
import dev.reuseport.examples.bench.harness.UdpEcho;
import dev.reuseport.examples.bench.harness.UdpSenders;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench control}: the playbook's incident scenario (section 6 and 9), timed, in one run: 8 UDP
 * workers on 127.0.0.1, a few heavy senders (distinct source ports, steady paced streams) that the kernel
 * hash piles onto a few workers, and a {@link Controller} with {@link Policy#roundRobin()} as its
 * candidate, ended window by window by this program ({@link Controller#tick()}), so the run is
 * deterministic in windows: OBSERVE sees the imbalance, SHADOW predicts the candidate's spread, ENFORCE
 * applies it; then a regression is injected and the controller falls back to the kernel hash.
 *
 * <p>Latency: each worker records, per datagram, the measured time from the datagram being read off its
 * socket to its echo having been sent ({@link Worker#recordLatency}). The injected regression is
 * synthetic and says so: from a window boundary on, while the candidate steers (the group's steering is
 * {@code bpf ...}), every recorded time is the measured one ×10, modelling a regression the policy
 * causes (e.g. per-flow state cached on one worker, missed when a flow is sprayed). Traffic itself is
 * unchanged; once the kernel default is back in force the recorded times are the measured ones again.
 *
 * <p>Then: {@link ReuseportGroup#fallback} timed directly several times, each after re-enforcing the
 * candidate under the same traffic; and the metrics overhead: TCP echo throughput (a connection per
 * request, as in {@code bench accept}) on one 8-worker group, with metrics ON (latency recorded per
 * request, a controller ticked and the metrics sampled and rendered every window) and OFF (neither), in
 * alternating rounds (OFF,ON, ON,OFF, ...), the ratio Stats.median(ON) / Stats.median(OFF).
 */
@Command(name = "control", mixinStandardHelpOptions = true,
        description = "The incident scenario timed: OBSERVE -> SHADOW -> ENFORCE -> injected regression -> "
                + "FALLBACK on 8 UDP workers; fallback time; metrics on/off throughput (alternating rounds).")
public final class BenchControl implements Callable<Integer> {
    private static final int WORKERS = 8;
    private static final Pattern REASON = Pattern.compile("\"reason\":\"((?:[^\"\\\\]|\\\\.)*)\"");

    @Spec
    CommandSpec spec;

    @Option(names = "--window-ms", defaultValue = "400",
            description = "controller window in ms (default ${DEFAULT-VALUE})")
    int windowMs;

    @Option(names = "--k", defaultValue = "3",
            description = "K: windows a trigger must hold (default ${DEFAULT-VALUE})")
    int k;

    @Option(names = "--flows", defaultValue = "4",
            description = "heavy UDP senders, one socket each (default ${DEFAULT-VALUE})")
    int flows;

    @Option(names = "--rate", defaultValue = "750",
            description = "datagrams per second per flow, paced (default ${DEFAULT-VALUE}: 300 per 400 ms window)")
    int rate;

    @Option(names = "--enforce-windows", defaultValue = "5",
            description = "ENFORCE windows before the regression is injected (default ${DEFAULT-VALUE})")
    int enforceWindows;

    @Option(names = "--after-windows", defaultValue = "2",
            description = "FALLBACK windows shown after the fallback (default ${DEFAULT-VALUE})")
    int afterWindows;

    @Option(names = "--max-windows", defaultValue = "40",
            description = "hard bound on incident windows (default ${DEFAULT-VALUE})")
    int maxWindows;

    @Option(names = "--fallback-repeats", defaultValue = "7",
            description = "direct group.fallback timings, each after re-enforcing (default ${DEFAULT-VALUE})")
    int fallbackRepeats;

    @Option(names = "--pairs", defaultValue = "20",
            description = "metrics on/off round pairs (default ${DEFAULT-VALUE})")
    int pairs;

    @Option(names = "--round-windows", defaultValue = "2",
            description = "length of a throughput round in controller windows (default ${DEFAULT-VALUE})")
    int roundWindows;

    @Option(names = "--warmup", defaultValue = "1",
            description = "warm-up seconds before the first throughput round (default ${DEFAULT-VALUE})")
    double warmup;

    @Option(names = "--clients", defaultValue = "8",
            description = "TCP client threads in throughput rounds (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--only", split = ",", defaultValue = "incident,overhead",
            description = "parts to run: incident, overhead (default ${DEFAULT-VALUE}); figures of parts not run are n/a")
    List<String> only;

    private PrintWriter out;
    private Progress progress;
    private final InetAddress lo = InetAddress.getLoopbackAddress();

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        progress = new Progress(spec.commandLine().getErr(), "control");
        if (flows < 1 || flows > 64 || rate < 1 || rate > 20_000 || windowMs < 50 || windowMs > 5000 || k < 1
                || k > 10 || pairs < 1 || pairs > 100 || roundWindows < 1 || roundWindows > 25 || maxWindows < 5
                || maxWindows > 200) {
            throw new IllegalArgumentException("out of range; accepted: --flows 1..64, --rate 1..20000, --window-ms "
                    + "50..5000, --k 1..10, --pairs 1..100, --round-windows 1..25, --max-windows 5..200");
        }
        long started = System.nanoTime();
        Incident inc = null;
        Overhead ov = null;
        if (only.contains("incident")) {
            inc = incident();
        }
        if (only.contains("overhead")) {
            out.println();
            ov = overhead();
        }
        out.println();
        if (inc != null) {
            out.printf(Locale.ROOT, "imbalance (max/mean over %d workers), median over each state's windows: OBSERVE %s "
                    + "(%d windows), SHADOW predicted %s (%d), ENFORCE observed %s (%d) [target <= 1.1: %s]%n", WORKERS,
                    Stats.fmt(inc.observe, 3), inc.nObserve, Stats.fmt(inc.shadow, 3), inc.nShadow, Stats.fmt(inc.enforce, 3),
                    inc.nEnforce, verdict(inc.enforce <= 1.1));
            out.printf(Locale.ROOT, "fallback of the incident: %s us from the trigger decided to the kernel default in "
                    + "force (controller.lastFallbackNanos) [target <= 1000: %s]%n", inc.fallbackUs < 0 ? "n/a"
                    : Long.toString(inc.fallbackUs), inc.fallbackUs < 0 ? "n/a" : verdict(inc.fallbackUs <= 1000));
            out.printf(Locale.ROOT, "direct group.fallback() under traffic, median of %d runs: %s us call wall, %s us "
                    + "call -> kernel default in force%n", inc.directRuns, Stats.fmt(inc.directWallUs, 1),
                    Stats.fmt(inc.directSwitchUs, 1));
        }
        if (ov != null) {
            out.printf(Locale.ROOT, "metrics overhead: median ON / median OFF = %s [target >= 0.97: %s]%n",
                    Stats.fmt(ov.ratio, 3), verdict(ov.ratio >= 0.97));
        }
        out.printf(Locale.ROOT, "total time %.1f s%n", (System.nanoTime() - started) / 1e9);
        new Result("control").put("imbalance_observe", inc == null ? Double.NaN : inc.observe, 3)
                .put("imbalance_shadow_predicted", inc == null ? Double.NaN : inc.shadow, 3)
                .put("imbalance_enforce", inc == null ? Double.NaN : inc.enforce, 3)
                .put("fallback_us", inc == null || inc.fallbackUs < 0 ? null : inc.fallbackUs)
                .put("metrics_overhead", ov == null ? Double.NaN : ov.ratio, 3).print(out);
        return 0;
    }

    private static String verdict(boolean met) {
        return met ? "met" : "NOT met";
    }

    // ------------------------------------------------------------------ incident

    /** The incident's figures. */
    static final class Incident {
        double observe = Double.NaN;
        double shadow = Double.NaN;
        double enforce = Double.NaN;
        int nObserve;
        int nShadow;
        int nEnforce;
        long fallbackUs = -1;
        double directWallUs = Double.NaN;
        double directSwitchUs = Double.NaN;
        int directRuns;
    }

    private Incident incident() throws Exception {
        Incident res = new Incident();
        Duration window = Duration.ofMillis(windowMs);
        Controller.Settings settings = new Controller.Settings(window, k, 1.5, 0.8, 10, 2.0, 5, Duration.ofSeconds(60),
                true);
        out.printf(Locale.ROOT, "INCIDENT: %d UDP workers on %s, kernel hash; %d heavy flows (one socket each), %d "
                + "datagrams/s each, paced; every datagram echoed%n", WORKERS, lo.getHostAddress(), flows, rate);
        out.printf(Locale.ROOT, "controller: candidate round-robin, window %d ms (ended by this program), K=%d, shadow "
                + "above 1.5, enforce gain 0.8, drops +10, p99 x2.0, failures +5, cool-down 60 s, automatic%n",
                windowMs, k);
        out.println("latency: measured per datagram, read off the socket -> echo sent; injected regression "
                + "(synthetic): recorded time x10 while the candidate steers");

        // warm-up on a throwaway group: the JIT compiles the receive/echo and send paths before the baseline
        try (ReuseportGroup wg = ReuseportGroup.udp().address(lo).port(0).workers(WORKERS).open();
             UdpEcho we = new UdpEcho(wg, Map.of(), flows)) {
            List<DatagramChannel> wc = Flows.open(lo, flows, false);
            try (UdpSenders ws = new UdpSenders(wc, wg.localAddress(), rate, 10_000_000_000L)) {
                ws.start();
                Thread.sleep(1000);
            } finally {
                Flows.closeAll(wc);
            }
        }

        List<DatagramChannel> chans = Flows.open(lo, flows, false);
        Map<Integer, Integer> flowOfPort = new HashMap<>();
        for (int f = 0; f < flows; f++) {
            flowOfPort.put(((InetSocketAddress) chans.get(f).getLocalAddress()).getPort(), f);
        }
        try (ReuseportGroup g = ReuseportGroup.udp().address(lo).port(0).workers(WORKERS).open();
             UdpEcho server = new UdpEcho(g, flowOfPort, flows);
             UdpSenders senders = new UdpSenders(chans, g.localAddress(), rate,
                     (long) (maxWindows * (long) windowMs + 30_000) * 1_000_000L)) {
            out.printf("group %s, steering at start: %s (%s)%n", g.localAddress(), g.capabilities().steering(),
                    g.capabilities().steeringReason());
            Controller c = Controller.manual(g, Policy.roundRobin(), settings);
            senders.start();
            out.println();
            out.println("per window: the state it ran in; imbalance = max/mean of per-worker datagram rates (observed); "
                    + "shadow = the candidate's predicted max/mean (SHADOW only); drops = kernel drops in the window; "
                    + "p99 = the worst worker's p99");
            out.printf("%3s %-8s %9s %9s %6s %8s  %-39s  %s%n", "win", "state", "imbalance", "shadow", "drops",
                    "p99(us)", "datagrams per worker w0..w7", "transition at the end of the window");
            List<Double> obs = new ArrayList<>();
            List<Double> sh = new ArrayList<>();
            List<Double> enf = new ArrayList<>();
            Map<Controller.State, long[]> flowMatrix = new HashMap<>();
            long[] prevFlow = server.flowSlot();
            long[] prevRecv = new long[WORKERS];
            long prevDrops = 0;
            List<String> transitions = new ArrayList<>();
            int enforceSeen = 0;
            int injectedAt = -1;
            int fallbackAt = -1;
            int afterFallback = 0;
            String stop = "max windows reached";
            long t0 = System.nanoTime();
            progress.phase("incident: windows of " + windowMs + " ms");
            for (int w = 1; w <= maxWindows; w++) {
                Controller.State now = c.state();
                progress.tick(() -> "incident: state " + now);
                Timing.sleepUntil(t0 + w * window.toNanos());
                Controller.State before = c.state();
                GroupMetrics m = c.tick();
                Controller.State after = c.state();
                long[] fs = server.flowSlot();
                long[] acc = flowMatrix.computeIfAbsent(before, s -> new long[fs.length]);
                for (int i = 0; i < fs.length; i++) {
                    acc[i] += fs[i] - prevFlow[i];
                }
                prevFlow = fs;
                StringBuilder per = new StringBuilder();
                for (WorkerMetrics wm : m.workers()) {
                    per.append(String.format("%4d ", wm.received() - prevRecv[wm.slot()]));
                    prevRecv[wm.slot()] = wm.received();
                }
                long drops = m.drops() - prevDrops;
                prevDrops = m.drops();
                long p99 = m.workers().stream().mapToLong(WorkerMetrics::p99Micros).max().orElse(0);
                String tr = "";
                if (after != before) {
                    String reason = lastTransitionReason(g);
                    tr = "-> " + after + " (" + reason + ")";
                    transitions.add(before + "->" + after);
                }
                switch (before) {
                    case OBSERVE -> obs.add(m.imbalance());
                    case SHADOW -> sh.add(m.shadowImbalance());
                    case ENFORCE -> {
                        enf.add(m.imbalance());
                        enforceSeen++;
                    }
                    default -> { }
                }
                if (injectedAt < 0 && after == Controller.State.ENFORCE && enforceSeen >= enforceWindows) {
                    server.inject(true);
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
                if (fallbackAt > 0 && before == Controller.State.FALLBACK && ++afterFallback >= afterWindows) {
                    stop = "done";
                    break;
                }
                if (before == Controller.State.OBSERVE && after == Controller.State.OBSERVE && obs.size() >= 4 * k + 4) {
                    stop = "OBSERVE never triggered";
                    break;
                }
                if (before == Controller.State.SHADOW && after == Controller.State.SHADOW && sh.size() >= 4 * k + 4) {
                    stop = "SHADOW never moved to ENFORCE";
                    break;
                }
                if (injectedAt > 0 && fallbackAt < 0 && w - injectedAt >= 3 * k + 2) {
                    stop = "no FALLBACK after the injected regression";
                    break;
                }
            }
            double[] base = c.baseline();
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
            printFlowMap(flowOfPort, flowMatrix);

            res.observe = Stats.median(obs);
            res.shadow = Stats.median(sh);
            res.enforce = Stats.median(enf);
            res.nObserve = obs.size();
            res.nShadow = sh.size();
            res.nEnforce = enf.size();
            long fb = c.lastFallbackNanos();
            res.fallbackUs = fb < 0 ? -1 : fb / 1000;
            out.printf(Locale.ROOT, "controller fallback: %s ns from the trigger decided (Controller.move) to the instant "
                    + "group.fallback reports the kernel default in force (after its two map updates)%n",
                    fb < 0 ? "n/a" : Long.toString(fb));

            List<String> incidentAudit = g.audit().entries();
            c.close();

            // group.fallback timed directly, each after re-enforcing the candidate: under the same traffic
            // (the figure reported), then again with the senders stopped (what the calls cost on a quiet group)
            progress.phase("direct fallbacks");
            double[] busy = directFallbacks(g, "under traffic");
            res.directRuns = (int) busy[0];
            res.directWallUs = busy[1];
            res.directSwitchUs = busy[2];
            senders.stop();
            Thread.sleep(200);
            directFallbacks(g, "senders stopped");
            out.printf("traffic: %d datagrams sent, %d echoes received by the senders, %d not echoed%n", senders.sent(),
                    senders.replies(), senders.sent() - senders.replies());

            out.println();
            out.println("AUDIT TRAIL of the incident (group.audit().entries()):");
            for (String l : incidentAudit) {
                out.println("  " + l);
            }
            int found = 0;
            for (String t : transitions) {
                String[] ft = t.split("->");
                String want = "\"from\":\"" + ft[0] + "\",\"to\":\"" + ft[1] + "\"";
                if (incidentAudit.stream().anyMatch(l -> l.contains("\"event\":\"transition\"") && l.contains(want))) {
                    found++;
                }
            }
            out.printf("audit check: %d of %d transitions seen in the table are in the audit trail (%s)%n", found,
                    transitions.size(), String.join(", ", transitions));
            List<String> later = g.audit().entries();
            out.printf("(the direct fallback timings then added %d more entries: a policy and a pass entry per run)%n",
                    later.size() - incidentAudit.size());
            return res;
        } finally {
            Flows.closeAll(chans);
        }
    }

    /**
     * Times {@code group.fallback} {@code --fallback-repeats} times, each after re-enforcing round-robin;
     * returns [runs, median wall us of the call, median us from the call to the kernel default in force].
     */
    private double[] directFallbacks(ReuseportGroup g, String label) throws Exception {
        List<Double> wall = new ArrayList<>();
        List<Double> sw = new ArrayList<>();
        for (int i = 1; i <= fallbackRepeats; i++) {
            g.policy(Policy.roundRobin());
            Thread.sleep(100);
            if (!g.capabilities().steering().startsWith("bpf")) {
                out.println("NOTE re-enforcing round-robin failed: " + g.capabilities().steeringReason());
                break;
            }
            long a = System.nanoTime();
            long r = g.fallback("bench: direct fallback " + i + " of " + fallbackRepeats + " (" + label + ")");
            long b = System.nanoTime();
            wall.add((b - a) / 1000.0);
            // fallback() returns System.nanoTime() at the moment the kernel default was in force (an earlier
            // version returned the duration of the map updates): accept either, say which
            if (r >= a && r <= b) {
                sw.add((r - a) / 1000.0);
            } else if (r >= 0 && r <= b - a) {
                sw.add(r / 1000.0);
            } else {
                out.println("NOTE group.fallback returned " + r + ", neither an instant within the call nor a duration");
            }
            Thread.sleep(30);
        }
        out.printf(Locale.ROOT, "direct group.fallback() after re-enforcing, %s, %d runs: call wall us %s (median %s); "
                + "call -> kernel default in force us %s (median %s)%n", label, wall.size(), Stats.list(wall),
                Stats.fmt(Stats.median(wall), 1), Stats.list(sw), Stats.fmt(Stats.median(sw), 1));
        return new double[] {wall.size(), Stats.median(wall), Stats.median(sw)};
    }

    private void printFlowMap(Map<Integer, Integer> flowOfPort, Map<Controller.State, long[]> m) {
        String[] portOf = new String[flows];
        flowOfPort.forEach((p, f) -> portOf[f] = Integer.toString(p));
        for (Controller.State s : List.of(Controller.State.OBSERVE, Controller.State.ENFORCE)) {
            long[] a = m.get(s);
            if (a == null) {
                continue;
            }
            out.printf("flow -> worker map in %s windows (%% of each flow's datagrams per worker):%n", s);
            StringBuilder h = new StringBuilder(String.format("  %-6s %-6s", "flow", "port"));
            for (int w = 0; w < WORKERS; w++) {
                h.append(String.format(" %6s", "w" + w));
            }
            out.println(h);
            int[] flowsOn = new int[WORKERS];
            for (int f = 0; f < flows; f++) {
                long tot = 0;
                for (int w = 0; w < WORKERS; w++) {
                    tot += a[f * WORKERS + w];
                }
                StringBuilder r = new StringBuilder(String.format("  %-6d %-6s", f, portOf[f]));
                for (int w = 0; w < WORKERS; w++) {
                    long n = a[f * WORKERS + w];
                    if (n > 0) {
                        flowsOn[w]++;
                    }
                    r.append(String.format(Locale.ROOT, " %6s", tot == 0 || n == 0 ? "." : Stats.fmt(100.0 * n / tot, 1)));
                }
                out.println(r);
            }
            if (s == Controller.State.OBSERVE) {
                StringBuilder r = new StringBuilder("  flows per worker:");
                for (int w = 0; w < WORKERS; w++) {
                    r.append(" w").append(w).append('=').append(flowsOn[w]);
                }
                out.println(r);
            }
        }
    }

    private static String lastTransitionReason(ReuseportGroup g) {
        List<String> tail = g.audit().tail(5);
        for (int i = tail.size() - 1; i >= 0; i--) {
            if (tail.get(i).contains("\"event\":\"transition\"")) {
                Matcher mt = REASON.matcher(tail.get(i));
                return mt.find() ? mt.group(1).replace("\\\"", "\"") : "?";
            }
        }
        return "no transition entry in the audit trail";
    }

    // ------------------------------------------------------------------ metrics overhead

    /** The overhead figures. */
    static final class Overhead {
        double ratio = Double.NaN;
    }

    private Overhead overhead() throws Exception {
        Overhead res = new Overhead();
        long roundNanos = (long) (roundWindows * windowMs) * 1_000_000L;
        out.printf(Locale.ROOT, "METRICS OVERHEAD: TCP echo, a connection per request (connect, 64 bytes, half-close, "
                + "echo, close), %d client threads running throughout, one 8-worker group on %s; %.1f s warm-up, then "
                + "%d pairs of %d ms rounds, order OFF,ON then ON,OFF alternating%n", clients, lo.getHostAddress(),
                warmup, pairs, roundNanos / 1_000_000);
        out.printf("  ON  = latency recorded per request (accept -> echo written, closed) + controller.tick() and a "
                + "metrics sample rendered as Prometheus text every %d ms (%d per round)%n", windowMs, roundWindows);
        out.println("  OFF = no latency recorded, no controller ticks, no sampling (same group, same threads, same "
                + "clients)");
        out.println("  per pair: conn/s of each side, their ratio, ON-round ticks, machine idle % and this JVM's CPU % "
                + "(of all CPUs), connections per CPU-second of this JVM (clients included)");
        Controller.Settings settings = new Controller.Settings(Duration.ofMillis(windowMs), k, 1.5, 0.8, 10, 2.0, 5,
                Duration.ofSeconds(60), false);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).open();
             TcpEcho server = new TcpEcho(g);
             TcpClients load = new TcpClients(g.localAddress(), clients,
                     (long) ((warmup + 2 * pairs * roundNanos / 1e9) * 1e9) + 30_000_000_000L)) {
            out.printf("  group %s, steering %s (%s)%n", g.localAddress(), g.capabilities().steering(),
                    g.capabilities().steeringReason());
            out.println("  controller: manual, automatic=false (observe-only: it samples and keeps the baseline; "
                    + "ticked only in ON rounds)");
            Controller c = Controller.manual(g, Policy.roundRobin(), settings);
            MetricsSampler scrape = g.newSampler();
            progress.phase("metrics overhead: " + pairs + " pairs");
            load.start();
            Thread.sleep((long) (warmup * 1000));
            out.printf("  %-5s %-7s %10s %10s %7s %6s %8s %8s %8s %8s%n", "pair", "order", "OFF c/s", "ON c/s", "ON/OFF",
                    "ticks", "idle%", "ours%", "OFF/cpu", "ON/cpu");
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
                int ticks = 0;
                for (boolean metrics : order) {
                    MetricsTicker ticker = metrics ? new MetricsTicker(c, scrape, windowMs) : null;
                    CpuSample cpu0 = CpuSample.now();
                    long n0 = load.completed();
                    server.record(metrics);
                    if (ticker != null) {
                        ticker.start();
                    }
                    Timing.sleepUntil(cpu0.wallNanos() + roundNanos);
                    server.record(false);
                    if (ticker != null) {
                        ticks = ticker.stop();
                    }
                    long n1 = load.completed();
                    CpuSample cpu1 = CpuSample.now();
                    double secs = cpu0.seconds(cpu1);
                    int x = metrics ? 1 : 0;
                    rate[x] = (n1 - n0) / secs;
                    perCpu[x] = (n1 - n0) / Math.max(1e-9, cpu0.processSeconds(cpu1));
                    idle += cpu0.idlePct(cpu1) / 2;
                    ours += cpu0.oursPct(cpu1) / 2;
                }
                off.add(rate[0]);
                on.add(rate[1]);
                offCpu.add(perCpu[0]);
                onCpu.add(perCpu[1]);
                pairRatio.add(rate[1] / rate[0]);
                out.printf(Locale.ROOT, "  %-5d %-7s %10.0f %10.0f %7.3f %6d %8s %8s %8.0f %8.0f%n", p + 1,
                        p % 2 == 0 ? "OFF,ON" : "ON,OFF", rate[0], rate[1], rate[1] / rate[0], ticks, Stats.fmt(idle, 1),
                        Stats.fmt(ours, 1), perCpu[0], perCpu[1]);
                out.flush();
            }
            load.stop();
            c.close();
            res.ratio = Stats.median(on) / Stats.median(off);
            out.printf(Locale.ROOT, "  median conn/s over %d pairs: OFF %.0f, ON %.0f -> ON/OFF %s; median of per-pair "
                    + "ratios %s; per CPU-second of this JVM (clients included): OFF %.0f, ON %.0f -> %s%n", pairs,
                    Stats.median(off), Stats.median(on), Stats.fmt(res.ratio, 3), Stats.fmt(Stats.median(pairRatio), 3), Stats.median(offCpu),
                    Stats.median(onCpu), Stats.fmt(Stats.median(onCpu) / Stats.median(offCpu), 3));
            out.printf("  failed connections %d; controller state after: %s; latency samples recorded in ON rounds: %d%n",
                    load.failed(), c.state(), server.recorded());
            long works = MetricsTicker.WORK_COUNT.get();
            out.printf(Locale.ROOT, "  window work in ON rounds (controller.tick + sample + Prometheus text): %d windows, "
                    + "mean %.2f ms wall and %.2f ms of its thread's CPU each (%.2f%% of one CPU at one per %d ms)%n",
                    works, works == 0 ? Double.NaN : MetricsTicker.WORK_NANOS.get() / 1e6 / works,
                    works == 0 ? Double.NaN : MetricsTicker.WORK_CPU_NANOS.get() / 1e6 / works,
                    works == 0 ? Double.NaN : 100.0 * MetricsTicker.WORK_CPU_NANOS.get() / works / (windowMs * 1e6), windowMs);
        }
        return res;
    }

}
