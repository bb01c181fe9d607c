package dev.reuseport.examples.bench.scenarios;

import dev.reuseport.Controller;
import dev.reuseport.MetricsSampler;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.MetricsEndpoint;
import dev.reuseport.PrometheusExporter;

import dev.reuseport.examples.bench.harness.AuditTrail;
import dev.reuseport.examples.bench.harness.ControllerWindows;
import dev.reuseport.examples.bench.harness.DirectFallbacks;
import dev.reuseport.examples.bench.harness.FlowMap;
import dev.reuseport.examples.bench.harness.Flows;
import dev.reuseport.examples.bench.harness.MetricsTicker;
import dev.reuseport.examples.bench.harness.Progress;
import dev.reuseport.examples.bench.harness.PromScraper;
import dev.reuseport.examples.bench.harness.Result;
import dev.reuseport.examples.bench.harness.Stats;
import dev.reuseport.examples.bench.harness.TcpClients;
import dev.reuseport.examples.bench.harness.TcpEcho;
import dev.reuseport.examples.bench.harness.ToggleRounds;
import dev.reuseport.examples.bench.harness.UdpEcho;
import dev.reuseport.examples.bench.harness.UdpSenders;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
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
 * socket to its echo having been sent ({@link dev.reuseport.Worker#recordLatency}). The injected regression is
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
 *
 * <p>The scrape: during the incident a real Prometheus (Debian's package) scrapes the group's
 * {@code /metrics} ({@link MetricsEndpoint}) every second; a window of the controller is disturbed when
 * its rates do not cover exactly its own window (a scrape that ended it would shorten it), reported as
 * {@code scrape_window_disturbed}. And the same TCP echo rounds with the endpoint served and scraped
 * (ON) or not (OFF): {@code scrape_overhead} = median(ON) / median(OFF).
 */
@Command(name = "control", mixinStandardHelpOptions = true,
        description = "The incident scenario timed: OBSERVE -> SHADOW -> ENFORCE -> injected regression -> "
                + "FALLBACK on 8 UDP workers; fallback time; metrics on/off throughput (alternating rounds).")
public final class BenchControl implements Callable<Integer> {
    private static final int WORKERS = 8;

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

    @Option(names = "--only", split = ",", defaultValue = "incident,overhead,scrape",
            description = "parts to run: incident, overhead, scrape (default ${DEFAULT-VALUE}); figures of parts not "
                    + "run are n/a")
    List<String> only;

    @Option(names = "--scrape-pairs", defaultValue = "6",
            description = "scraped/not scraped round pairs (default ${DEFAULT-VALUE})")
    int scrapePairs;

    @Option(names = "--scrape-round-ms", defaultValue = "3000",
            description = "length of a scrape round; Prometheus scrapes once a second (default ${DEFAULT-VALUE})")
    int scrapeRoundMs;

    private PrintWriter out;
    private Progress progress;
    private final InetAddress lo = InetAddress.getLoopbackAddress();

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        progress = new Progress(spec.commandLine().getErr(), "control");
        if (flows < 1 || flows > 64 || rate < 1 || rate > 20_000 || windowMs < 50 || windowMs > 5000 || k < 1
                || k > 10 || pairs < 1 || pairs > 100 || roundWindows < 1 || roundWindows > 25 || maxWindows < 5
                || maxWindows > 200 || scrapePairs < 1 || scrapePairs > 50 || scrapeRoundMs < 1000
                || scrapeRoundMs > 60_000) {
            throw new IllegalArgumentException("out of range; accepted: --flows 1..64, --rate 1..20000, --window-ms "
                    + "50..5000, --k 1..10, --pairs 1..100, --round-windows 1..25, --max-windows 5..200, --scrape-pairs 1..50, "
                    + "--scrape-round-ms 1000..60000");
        }
        long started = System.nanoTime();
        Incident inc = null;
        ToggleRounds.Outcome ov = null;
        ToggleRounds.Outcome scrape = null;
        if (only.contains("incident")) {
            inc = incident();
        }
        if (only.contains("overhead")) {
            out.println();
            ov = overhead(false);
        }
        if (only.contains("scrape")) {
            out.println();
            scrape = PromScraper.binary() == null ? null : overhead(true);
            if (scrape == null) {
                out.println("SCRAPE OVERHEAD: n/a, prometheus is not installed (Debian package 'prometheus')");
            }
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
                    Stats.fmt(ov.ratio(), 3), verdict(ov.ratio() >= 0.97));
        }
        if (scrape != null) {
            out.printf(Locale.ROOT, "scrape overhead: median scraped / median not scraped = %s [target >= 0.97: %s]%n",
                    Stats.fmt(scrape.ratio(), 3), verdict(scrape.ratio() >= 0.97));
        }
        if (inc != null && inc.scrapes >= 0) {
            out.printf(Locale.ROOT, "scrapes during the incident: %d; controller windows whose rates did not cover "
                    + "exactly their own window: %d of %d [target 0: %s]%n", inc.scrapes, inc.disturbed, inc.checked,
                    verdict(inc.disturbed == 0));
        } else if (inc != null && only.contains("scrape")) {
            out.println("scrapes during the incident: n/a (no Prometheus, or no scrape of the group in 15 s)");
        }
        out.printf(Locale.ROOT, "total time %.1f s%n", (System.nanoTime() - started) / 1e9);
        new Result("control").put("imbalance_observe", inc == null ? Double.NaN : inc.observe, 3)
                .put("imbalance_shadow_predicted", inc == null ? Double.NaN : inc.shadow, 3)
                .put("imbalance_enforce", inc == null ? Double.NaN : inc.enforce, 3)
                .put("fallback_us", inc == null || inc.fallbackUs < 0 ? null : inc.fallbackUs)
                .put("metrics_overhead", ov == null ? Double.NaN : ov.ratio(), 3)
                .put("scrape_overhead", scrape == null ? Double.NaN : scrape.ratio(), 3)
                .put("scrape_window_disturbed", inc == null || inc.scrapes < 0 ? null : inc.disturbed > 0 ? 1 : 0)
                .print(out);
        return 0;
    }

    private static String verdict(boolean met) {
        return met ? "met" : "NOT met";
    }

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
        long scrapes = -1;
        int disturbed;
        int checked;
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

        UdpEcho.warmUp(lo, WORKERS, flows, rate); // the JIT compiles the receive/echo and send paths first

        List<DatagramChannel> chans = Flows.open(lo, flows, false);
        Map<Integer, Integer> flowOfPort = new HashMap<>();
        for (int f = 0; f < flows; f++) {
            flowOfPort.put(((InetSocketAddress) chans.get(f).getLocalAddress()).getPort(), f);
        }
        try (ReuseportGroup g = ReuseportGroup.udp().address(lo).port(0).workers(WORKERS).open();
             MetricsEndpoint endpoint = MetricsEndpoint.start(new InetSocketAddress(lo, 0), PrometheusExporter.of(g));
             PromScraper prom = PromScraper.binary() == null ? null : PromScraper.start(endpoint.address());
             UdpEcho server = new UdpEcho(g, flowOfPort, flows);
             UdpSenders senders = new UdpSenders(chans, g.localAddress(), rate,
                     (long) (maxWindows * (long) windowMs + 30_000) * 1_000_000L)) {
            out.printf("group %s, steering at start: %s (%s)%n", g.localAddress(), g.capabilities().steering(),
                    g.capabilities().steeringReason());
            out.println(prom == null ? "scrape: none (prometheus is not installed)" : "scrape: Prometheus scrapes "
                    + "http://" + endpoint.address().getAddress().getHostAddress() + ":" + endpoint.address().getPort()
                    + "/metrics every second throughout");
            long scrapes0 = prom == null ? -1 : prom.awaitFirstScrape(Duration.ofSeconds(15)); // -1: none
            Controller c = Controller.manual(g, Policy.roundRobin(), settings);
            senders.start();
            ControllerWindows cw = ControllerWindows.run(out, progress, c, () -> AuditTrail.lastTransitionReason(
                    g.audit().tail(5)), server::flowSlot, () -> server.inject(true),
                    new ControllerWindows.Plan(window, k, maxWindows, enforceWindows, afterWindows));
            res.checked = cw.checked;
            res.disturbed = cw.disturbed;
            cw.report(out, k, c.baseline());
            FlowMap.print(out, flows, WORKERS, flowOfPort, cw.flowMatrix, List.of("OBSERVE", "ENFORCE"));
            res.scrapes = prom == null || scrapes0 < 0 ? -1 : prom.scrapes() - scrapes0;

            res.observe = Stats.median(cw.observe);
            res.shadow = Stats.median(cw.shadow);
            res.enforce = Stats.median(cw.enforce);
            res.nObserve = cw.observe.size();
            res.nShadow = cw.shadow.size();
            res.nEnforce = cw.enforce.size();
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
            double[] busy = DirectFallbacks.run(out, g, fallbackRepeats, "under traffic");
            res.directRuns = (int) busy[0];
            res.directWallUs = busy[1];
            res.directSwitchUs = busy[2];
            senders.stop();
            Thread.sleep(200);
            DirectFallbacks.run(out, g, fallbackRepeats, "senders stopped");
            out.printf("traffic: %d datagrams sent, %d echoes received by the senders, %d not echoed%n", senders.sent(),
                    senders.replies(), senders.sent() - senders.replies());

            out.println();
            AuditTrail.printCheck(out, incidentAudit, cw.transitions);
            List<String> later = g.audit().entries();
            out.printf("(the direct fallback timings then added %d more entries: a policy and a pass entry per run)%n",
                    later.size() - incidentAudit.size());
            return res;
        } finally {
            Flows.closeAll(chans);
        }
    }

    /**
     * TCP echo throughput with a feature OFF and ON in alternating rounds: the metrics (latency recorded,
     * controller ticked, a sample rendered every window) or, with {@code scrape}, the {@code /metrics}
     * endpoint served and scraped by Prometheus every second.
     */
    private ToggleRounds.Outcome overhead(boolean scrape) throws Exception {
        long roundNanos = scrape ? scrapeRoundMs * 1_000_000L : (long) (roundWindows * windowMs) * 1_000_000L;
        int n = scrape ? scrapePairs : pairs;
        out.printf(Locale.ROOT, "%s: TCP echo, a connection per request (connect, 64 bytes, half-close, echo, close), "
                + "%d client threads running throughout, one 8-worker group on %s; %.1f s warm-up, then %d pairs of %d "
                + "ms rounds, order OFF,ON then ON,OFF alternating%n", scrape ? "SCRAPE OVERHEAD" : "METRICS OVERHEAD",
                clients, lo.getHostAddress(), warmup, n, roundNanos / 1_000_000);
        if (scrape) {
            out.println("  ON  = the group's /metrics served (MetricsEndpoint) and scraped by Prometheus every second; "
                    + "OFF = the endpoint closed (Prometheus's scrapes are refused)");
        } else {
            out.printf("  ON  = latency recorded per request (accept -> echo written, closed) + controller.tick() and a "
                    + "metrics sample rendered as Prometheus text every %d ms (%d per round)%n", windowMs, roundWindows);
            out.println("  OFF = no latency recorded, no controller ticks, no sampling (same group, same threads, same "
                    + "clients)");
        }
        Controller.Settings settings = new Controller.Settings(Duration.ofMillis(windowMs), k, 1.5, 0.8, 10, 2.0, 5,
                Duration.ofSeconds(60), false);
        try (ReuseportGroup g = ReuseportGroup.tcp().address(lo).port(0).workers(WORKERS).open();
             TcpEcho server = new TcpEcho(g);
             TcpClients load = new TcpClients(g.localAddress(), clients,
                     (long) ((warmup + 2 * n * roundNanos / 1e9) * 1e9) + 30_000_000_000L)) {
            out.printf("  group %s, steering %s (%s)%n", g.localAddress(), g.capabilities().steering(),
                    g.capabilities().steeringReason());
            Controller c = Controller.manual(g, Policy.roundRobin(), settings);
            MetricsSampler sampler = g.newSampler();
            InetSocketAddress at;
            try (MetricsEndpoint probe = MetricsEndpoint.start(new InetSocketAddress(lo, 0), PrometheusExporter.of(g))) {
                at = probe.address(); // the port Prometheus scrapes; the endpoint listens there in ON rounds only
            }
            MetricsEndpoint[] endpoint = new MetricsEndpoint[1];
            MetricsTicker[] ticker = new MetricsTicker[1];
            try (PromScraper prom = scrape ? PromScraper.start(at) : null) {
                progress.phase((scrape ? "scrape" : "metrics") + " overhead: " + n + " pairs");
                load.start();
                Thread.sleep((long) (warmup * 1000));
                long scrapes0 = prom == null ? 0 : prom.scrapes();
                ToggleRounds.Outcome o = ToggleRounds.run(out, n, roundNanos, load::completed, scrape ? "" : "ticks",
                        new ToggleRounds.Toggle() {
                            @Override
                            public void begin(boolean on) throws Exception {
                                if (on && scrape) {
                                    endpoint[0] = MetricsEndpoint.start(at, PrometheusExporter.of(g));
                                } else if (on) {
                                    server.record(true);
                                    ticker[0] = new MetricsTicker(c, sampler, windowMs);
                                    ticker[0].start();
                                }
                            }

                            @Override
                            public String end(boolean on) throws Exception {
                                if (on && scrape) {
                                    endpoint[0].close();
                                } else if (on) {
                                    server.record(false);
                                    return Integer.toString(ticker[0].stop());
                                }
                                return "";
                            }
                        }, progress);
                load.stop();
                c.close();
                out.printf(Locale.ROOT, "  median conn/s over %d pairs: OFF %.0f, ON %.0f -> ON/OFF %s; median of "
                        + "per-pair ratios %s; per CPU-second of this JVM (clients included): OFF %.0f, ON %.0f -> %s%n",
                        n, o.off(), o.on(), Stats.fmt(o.ratio(), 3), Stats.fmt(o.pairRatio(), 3), o.offPerCpu(),
                        o.onPerCpu(), Stats.fmt(o.onPerCpu() / o.offPerCpu(), 3));
                out.printf("  failed connections %d%s%n", load.failed(), prom == null ? "; latency samples recorded in "
                        + "ON rounds: " + server.recorded() : "; Prometheus scrapes in the rounds (refused ones "
                        + "included): " + (prom.scrapes() - scrapes0));
                if (!scrape) {
                    long works = MetricsTicker.WORK_COUNT.get();
                    out.printf(Locale.ROOT, "  window work in ON rounds (controller.tick + sample + Prometheus text): "
                            + "%d windows, mean %.2f ms wall and %.2f ms of its thread's CPU each%n", works,
                            works == 0 ? Double.NaN : MetricsTicker.WORK_NANOS.get() / 1e6 / works,
                            works == 0 ? Double.NaN : MetricsTicker.WORK_CPU_NANOS.get() / 1e6 / works);
                }
                return o;
            }
        }
    }
}
