package dev.reuseport;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.SteerProgram;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * The scraper's own view of one or more groups, in the Prometheus text exposition format (version
 * 0.0.4), as {@code /metrics} ({@link MetricsEndpoint}) and {@code ctl metrics --prom} serve it.
 *
 * <p>Everything here is cumulative or instantaneous: a scrape reads counters and never ends a window,
 * so it disturbs no other reader (the controller's or an operator's {@link MetricsSampler}), and any
 * number of scrapers may read at once. Rates, shares and the imbalance ratio are left to PromQL over
 * the counters, e.g. the recording rule
 * <pre>
 *   reuseport:worker_rate1m = sum by (protocol, port, slot)
 *       (rate(reuseport_worker_accepted_total[1m]) + rate(reuseport_worker_received_total[1m]))
 *   reuseport:imbalance_ratio1m = max by (protocol, port) (reuseport:worker_rate1m)
 *       / avg by (protocol, port) (reuseport:worker_rate1m)
 * </pre>
 *
 * <p>Families (every series of a group carries {@code protocol} and {@code port}; per-worker series
 * also {@code slot}): {@code reuseport_worker_accepted_total}, {@code _received_total},
 * {@code _sent_total}, {@code _drops_total}, {@code _bpf_selected_total}, {@code _bpf_shadow_total},
 * {@code _bpf_migrated_total}, {@code _bpf_fallback_total} (counters), {@code reuseport_worker_queue_depth}
 * and {@code _queue_limit} (gauges), {@code reuseport_worker_latency_seconds} (a histogram of the
 * latencies the application recorded with {@link Worker#recordLatency(long)}), {@code reuseport_workers},
 * {@code reuseport_control_state} (one series per state, 1 for the one in force; {@code state="NONE"} is 1
 * when no controller runs), {@code reuseport_policy_info} ({@code policy}, {@code table_version},
 * {@code steering}), {@code reuseport_policy_table_version}, {@code reuseport_capability} (one series per
 * feature and outcome {@code on}, {@code off}, {@code inconclusive}; 1 for the probed one),
 * {@code reuseport_restarts_total}, {@code reuseport_handoffs_total} ({@code outcome} passed or aborted),
 * {@code reuseport_takeovers_total} ({@code outcome} adopted or fallback),
 * {@code reuseport_watchdog_removals_total}, {@code reuseport_membership_changes_total} ({@code change}
 * add or remove), {@code reuseport_map_update_failures_total}, {@code reuseport_fallbacks_total}, and once
 * per exposition the namespace's {@code reuseport_netstat_tcp_migrate_req_success_total},
 * {@code _tcp_migrate_req_failure_total}, {@code _listen_overflows_total} and {@code _listen_drops_total}.
 */
public final class PrometheusExporter {
    /** Upper bounds of the latency histogram's buckets, in seconds (then {@code +Inf}). */
    static final double[] LATENCY_BUCKETS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
        0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    /** The content type of the text format this class writes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final List<ReuseportGroup> groups;

    private PrometheusExporter(List<ReuseportGroup> groups) {
        this.groups = List.copyOf(groups);
    }

    /**
     * An exporter of the given groups (e.g. the TCP and the UDP group of one server). A group that is
     * closed when a scrape runs is left out of that scrape.
     *
     * @param groups one or more groups; two groups of the same protocol and port are refused, since their
     *               series could not be told apart
     * @return the exporter
     * @throws IllegalArgumentException when no group is given, one is null, or two share protocol and port
     */
    public static PrometheusExporter of(ReuseportGroup... groups) {
        if (groups == null || groups.length == 0) {
            throw new IllegalArgumentException("no group to export; accepted: one or more groups");
        }
        List<ReuseportGroup> list = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (ReuseportGroup g : groups) {
            if (g == null) {
                throw new IllegalArgumentException("group null; accepted: open groups");
            }
            if (!seen.add(g.protocol() + ":" + g.localAddress().getPort())) {
                throw new IllegalArgumentException("two groups with protocol " + g.protocol() + " and port "
                        + g.localAddress().getPort() + "; accepted: one group per protocol and port");
            }
            list.add(g);
        }
        return new PrometheusExporter(list);
    }

    /**
     * Reads every group now and writes the exposition. Changes nothing: no window ends, no counter
     * resets.
     *
     * @return the text, {@code # HELP} and {@code # TYPE} before each family, one family's samples together
     */
    public String scrape() {
        Map<String, Family> fams = new LinkedHashMap<>();
        for (ReuseportGroup g : groups) {
            try {
                add(fams, g);
            } catch (IOException | RuntimeException e) {
                // a group closed (or a counter unreadable) during the scrape: its series are left out
                System.getLogger("dev.reuseport.metrics").log(System.Logger.Level.DEBUG,
                        "scrape of " + g + " skipped: " + e);
            }
        }
        Map<String, Long> netstat = MetricsSampler.netstat();
        for (Map.Entry<String, Long> e : netstat.entrySet()) {
            String name = "reuseport_netstat_" + snake(e.getKey()) + "_total";
            family(fams, name, "counter", "namespace-wide /proc/net/netstat TcpExt " + e.getKey())
                    .add(name, "", e.getValue());
        }
        StringBuilder b = new StringBuilder();
        for (Family f : fams.values()) {
            b.append("# HELP ").append(f.name).append(' ').append(f.help).append('\n');
            b.append("# TYPE ").append(f.name).append(' ').append(f.type).append('\n');
            b.append(f.samples);
        }
        return b.toString();
    }

    private static void add(Map<String, Family> fams, ReuseportGroup g) throws IOException {
        if (g.isClosed()) {
            return;
        }
        String base = "protocol=\"" + g.protocol().name().toLowerCase(Locale.ROOT) + "\",port=\""
                + g.localAddress().getPort() + "\"";
        List<WorkerStats> stats = g.stats();
        List<SteerProgram.SlotCounters> bpf = g.steeringCounters();
        counterPerWorker(fams, "reuseport_worker_accepted_total", "TCP connections accepted through the worker");
        counterPerWorker(fams, "reuseport_worker_received_total", "UDP datagrams received through the worker");
        counterPerWorker(fams, "reuseport_worker_sent_total", "UDP datagrams sent through the worker");
        counterPerWorker(fams, "reuseport_worker_drops_total",
                "kernel drops of the worker's socket (SO_MEMINFO SK_MEMINFO_DROPS)");
        family(fams, "reuseport_worker_queue_depth", "gauge", "TCP accept queue length now (TCP_INFO tcpi_unacked)");
        family(fams, "reuseport_worker_queue_limit", "gauge", "TCP accept queue limit (TCP_INFO tcpi_sacked)");
        counterPerWorker(fams, "reuseport_worker_bpf_selected_total", "new traffic the steering program sent here");
        counterPerWorker(fams, "reuseport_worker_bpf_shadow_total", "traffic the shadowed policy would have sent here");
        counterPerWorker(fams, "reuseport_worker_bpf_migrated_total", "requests migrated here from closing listeners");
        counterPerWorker(fams, "reuseport_worker_bpf_fallback_total",
                "times this slot was chosen but empty, so the kernel hash decided");
        for (WorkerStats s : stats) {
            String l = base + ",slot=\"" + s.slot() + "\"";
            SteerProgram.SlotCounters c = s.slot() < bpf.size() ? bpf.get(s.slot())
                    : new SteerProgram.SlotCounters(0, 0, 0, 0);
            fams.get("reuseport_worker_accepted_total").add("reuseport_worker_accepted_total", l, s.accepted());
            fams.get("reuseport_worker_received_total").add("reuseport_worker_received_total", l, s.received());
            fams.get("reuseport_worker_sent_total").add("reuseport_worker_sent_total", l, s.sent());
            fams.get("reuseport_worker_drops_total").add("reuseport_worker_drops_total", l, s.drops());
            fams.get("reuseport_worker_queue_depth").add("reuseport_worker_queue_depth", l, s.queueDepth());
            fams.get("reuseport_worker_queue_limit").add("reuseport_worker_queue_limit", l, s.queueLimit());
            fams.get("reuseport_worker_bpf_selected_total").add("reuseport_worker_bpf_selected_total", l, c.selected());
            fams.get("reuseport_worker_bpf_shadow_total").add("reuseport_worker_bpf_shadow_total", l, c.shadow());
            fams.get("reuseport_worker_bpf_migrated_total").add("reuseport_worker_bpf_migrated_total", l, c.migrated());
            fams.get("reuseport_worker_bpf_fallback_total").add("reuseport_worker_bpf_fallback_total", l, c.fallback());
        }
        Family lat = family(fams, "reuseport_worker_latency_seconds", "histogram",
                "latency the application recorded per request (Worker.recordLatency)");
        for (WorkerStats s : stats) {
            Worker w;
            try {
                w = g.worker(s.slot());
            } catch (IllegalArgumentException gone) {
                continue; // removed between stats() and now
            }
            histogram(lat, base + ",slot=\"" + s.slot() + "\"", w.latencySnapshot());
        }
        family(fams, "reuseport_workers", "gauge", "live workers in the group").add("reuseport_workers", base,
                stats.size());
        Family state = family(fams, "reuseport_control_state", "gauge",
                "control state in force: 1 for the current one (NONE: no controller runs)");
        ControlState now = g.controllerState();
        for (ControlState st : ControlState.values()) {
            state.add("reuseport_control_state", base + ",state=\"" + st.name() + "\"", st == now ? 1 : 0);
        }
        Capabilities caps = g.capabilities();
        family(fams, "reuseport_policy_info", "gauge", "the policy in force, its table version and what steers")
                .add("reuseport_policy_info", base + ",policy=\"" + esc(g.policy().spec()) + "\",table_version=\""
                        + g.tableVersion() + "\",steering=\"" + esc(caps.steering()) + "\"", 1);
        family(fams, "reuseport_policy_table_version", "gauge", "version of the steering table in force")
                .add("reuseport_policy_table_version", base, g.tableVersion());
        Family cap = family(fams, "reuseport_capability", "gauge",
                "probed kernel features: 1 for the outcome of each feature's probe");
        for (Feature f : caps.features()) {
            for (Feature.State st : Feature.State.values()) {
                cap.add("reuseport_capability", base + ",feature=\"" + esc(f.name()) + "\",outcome=\""
                        + st.name().toLowerCase(Locale.ROOT) + "\"", f.state() == st ? 1 : 0);
            }
        }
        AuditLog a = g.audit();
        counter(fams, "reuseport_restarts_total", "socket swaps (restart, replaceWorker)").add(
                "reuseport_restarts_total", base, g.restarts());
        Family ho = counter(fams, "reuseport_handoffs_total", "hand-offs to another process from this one");
        ho.add("reuseport_handoffs_total", base + ",outcome=\"passed\"", a.count("handoff"));
        ho.add("reuseport_handoffs_total", base + ",outcome=\"aborted\"", a.count("handoff-aborted"));
        Family to = counter(fams, "reuseport_takeovers_total", "groups this process took over from another");
        to.add("reuseport_takeovers_total", base + ",outcome=\"adopted\"", a.count("takeover"));
        to.add("reuseport_takeovers_total", base + ",outcome=\"fallback\"", a.count("takeover-fallback"));
        counter(fams, "reuseport_watchdog_removals_total", "workers the watchdog removed as stalled").add(
                "reuseport_watchdog_removals_total", base, a.count("worker-stalled"));
        Family mc = counter(fams, "reuseport_membership_changes_total", "workers added and removed at run time");
        mc.add("reuseport_membership_changes_total", base + ",change=\"add\"", a.count("add-worker"));
        mc.add("reuseport_membership_changes_total", base + ",change=\"remove\"", a.count("remove-worker"));
        counter(fams, "reuseport_map_update_failures_total", "steering table updates that failed").add(
                "reuseport_map_update_failures_total", base, a.count("publish-failed"));
        counter(fams, "reuseport_fallbacks_total", "returns to the kernel default (fallback)").add(
                "reuseport_fallbacks_total", base, g.fallbacks());
        java.util.Map<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> dc = g.dissectorCounters();
        if (!dc.isEmpty()) {
            family(fams, "reuseport_dissector_info", "gauge", "the dissector in force").add(
                    "reuseport_dissector_info", base + ",dissector=\"" + esc(g.dissector().toString()) + "\"", 1);
            Family d = counter(fams, "reuseport_dissector_datagrams_total",
                    "UDP datagrams per dissector and outcome: cookie (steered by its routing cookie), no_cookie, "
                    + "gone (cookie or flow of a slot or generation that is gone), malformed, flow_hit, flow_miss, "
                    + "flow_expired (a subset of flow_miss)");
            for (java.util.Map.Entry<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> e : dc.entrySet()) {
                String l = base + ",dissector=\"" + e.getKey().name().toLowerCase(Locale.ROOT) + "\",outcome=\"";
                SteerProgram.DissectorCounters c = e.getValue();
                d.add("reuseport_dissector_datagrams_total", l + "cookie\"", c.cookie());
                d.add("reuseport_dissector_datagrams_total", l + "no_cookie\"", c.noCookie());
                d.add("reuseport_dissector_datagrams_total", l + "gone\"", c.gone());
                d.add("reuseport_dissector_datagrams_total", l + "malformed\"", c.malformed());
                d.add("reuseport_dissector_datagrams_total", l + "flow_hit\"", c.flowHit());
                d.add("reuseport_dissector_datagrams_total", l + "flow_miss\"", c.flowMiss());
                d.add("reuseport_dissector_datagrams_total", l + "flow_expired\"", c.flowExpired());
            }
        }
    }

    private static void histogram(Family f, String labels, Histogram h) {
        long cumulative = 0;
        long total = h.getTotalCount();
        long prevMicros = -1;
        for (double le : LATENCY_BUCKETS) {
            long micros = Math.round(le * 1e6);
            cumulative += total == 0 ? 0 : h.getCountBetweenValues(prevMicros + 1, micros);
            prevMicros = micros;
            f.add("reuseport_worker_latency_seconds_bucket", labels + ",le=\"" + num(le) + "\"", cumulative);
        }
        f.add("reuseport_worker_latency_seconds_bucket", labels + ",le=\"+Inf\"", total);
        f.add("reuseport_worker_latency_seconds_sum", labels, total == 0 ? 0 : h.getMean() * total / 1e6);
        f.add("reuseport_worker_latency_seconds_count", labels, total);
    }

    private static void counterPerWorker(Map<String, Family> fams, String name, String help) {
        family(fams, name, "counter", help);
    }

    private static Family counter(Map<String, Family> fams, String name, String help) {
        return family(fams, name, "counter", help);
    }

    private static Family family(Map<String, Family> fams, String name, String type, String help) {
        return fams.computeIfAbsent(name, n -> new Family(n, type, help));
    }

    /** {@code TCPMigrateReqSuccess} → {@code tcp_migrate_req_success}. */
    static String snake(String camel) {
        return camel.replaceAll("([a-z])([A-Z])", "$1_$2").replaceAll("([A-Z]+)([A-Z][a-z])", "$1_$2")
                .toLowerCase(Locale.ROOT);
    }

    /** A label value escaped as the text format wants: backslash, double quote and newline. */
    static String esc(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        String s = String.format(Locale.ROOT, "%.9f", v);
        return s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    private static final class Family {
        final String name;
        final String type;
        final String help;
        final StringBuilder samples = new StringBuilder();

        Family(String name, String type, String help) {
            this.name = name;
            this.type = type;
            this.help = help;
        }

        void add(String sample, String labels, double value) {
            samples.append(sample);
            if (!labels.isEmpty()) {
                samples.append('{').append(labels).append('}');
            }
            samples.append(' ').append(num(value)).append('\n');
        }
    }
}
