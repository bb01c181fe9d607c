package dev.reuseport;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A group's metrics over one sampling window; immutable. Derived figures: the imbalance ratio (max/mean
 * of the per-worker rate), the shadow policy's predicted imbalance (max/mean of would-have-selected
 * rates), and the p99 divergence (largest worker p99 over the median worker p99).
 *
 * @param timeMillis        when the window ended (epoch ms)
 * @param windowSeconds     its length
 * @param policy            the policy in force
 * @param tableVersion      the table version of the steering program in force (see
 *                          {@link ReuseportGroup#tableVersion()})
 * @param state             the control state, or {@code -} without a controller
 * @param workers           per worker, by slot
 * @param imbalance         max/mean of worker rates over the window (1.0 = even; 0 = no traffic)
 * @param shadowImbalance   max/mean of shadow rates (0 = not shadowing or no traffic)
 * @param p99Divergence     max worker p99 / median worker p99 (0 = no latency recorded)
 * @param restarts          socket swaps done
 * @param netstat           the namespace's TCPMigrateReqSuccess, TCPMigrateReqFailure, ListenOverflows,
 *                          ListenDrops
 */
public record GroupMetrics(long timeMillis, double windowSeconds, String policy, int tableVersion, String state,
                           List<WorkerMetrics> workers, double imbalance, double shadowImbalance,
                           double p99Divergence, long restarts, Map<String, Long> netstat) {

    /** Copies the lists. */
    public GroupMetrics {
        workers = List.copyOf(workers);
        netstat = Map.copyOf(netstat);
    }

    /**
     * The table version, under its former name.
     *
     * @return {@link #tableVersion()}
     * @deprecated "generation" also named a socket swap; use {@link #tableVersion()}
     */
    @Deprecated
    public int generation() {
        return tableVersion;
    }

    /**
     * The drops of every worker added up.
     *
     * @return the sum of {@link WorkerMetrics#drops()}, cumulative since each socket was opened (not per
     *         window)
     */
    public long drops() {
        return workers.stream().mapToLong(WorkerMetrics::drops).sum();
    }

    /**
     * The metrics as an aligned text table, as {@code ctl metrics} prints it: a header line with the
     * derived figures, one row per worker, then the namespace-wide counters.
     *
     * @return the table, one line per row
     */
    public String toTable() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "policy %s table-version %d state %s window %.1fs imbalance %.3f "
                + "shadow-imbalance %.3f p99-divergence %.2f restarts %d%n", policy, tableVersion, state, windowSeconds,
                imbalance, shadowImbalance, p99Divergence, restarts));
        b.append(String.format(Locale.ROOT, "%-5s %10s %10s %9s %7s %8s %10s %10s %8s %8s %8s %8s %8s%n", "slot",
                "accepted", "received", "rate/s", "queue", "drops", "selected", "shadow", "migrated", "fallback",
                "p50us", "p99us", "p999us"));
        for (WorkerMetrics w : workers) {
            b.append(String.format(Locale.ROOT, "%-5d %10d %10d %9.1f %3d/%-3d %8d %10d %10d %8d %8d %8d %8d %8d%n",
                    w.slot(), w.accepted(), w.received(), w.rate(), w.queueDepth(), w.queueLimit(), w.drops(),
                    w.selected(), w.shadow(), w.migrated(), w.fallback(), w.p50Micros(), w.p99Micros(),
                    w.p999Micros()));
        }
        netstat.forEach((k, v) -> b.append("namespace-wide ").append(k).append(' ').append(v).append('\n'));
        return b.toString();
    }

    /**
     * This window in the Prometheus text exposition format (version 0.0.4): the derived ratios as gauges,
     * cumulative counts as counters ({@code _total}), and one series per worker labelled {@code slot}. A
     * record of one window (the forensic bundle, a benchmark); a scraper uses {@link PrometheusExporter}
     * instead, whose view is cumulative and carries {@code protocol} and {@code port} as well.
     *
     * @return the exposition text, with {@code # HELP} and {@code # TYPE} lines
     */
    public String toPrometheus() {
        StringBuilder b = new StringBuilder();
        gauge(b, "reuseport_imbalance_ratio", "max/mean of per-worker rate over the window", imbalance);
        gauge(b, "reuseport_shadow_imbalance_ratio", "predicted imbalance of the shadowed policy", shadowImbalance);
        gauge(b, "reuseport_p99_divergence_ratio", "max worker p99 over median worker p99", p99Divergence);
        gauge(b, "reuseport_policy_table_version", "version of the steering table in force", tableVersion);
        counter(b, "reuseport_restarts_total", "socket swaps", restarts);
        series(b, "reuseport_worker_accepted_total", "counter", "TCP connections accepted", w -> w.accepted());
        series(b, "reuseport_worker_received_total", "counter", "UDP datagrams received", w -> w.received());
        series(b, "reuseport_worker_queue_depth", "gauge", "TCP accept queue length", w -> w.queueDepth());
        series(b, "reuseport_worker_queue_limit", "gauge", "TCP accept queue limit", w -> w.queueLimit());
        series(b, "reuseport_worker_drops_total", "counter", "kernel drops (SO_MEMINFO)", w -> w.drops());
        series(b, "reuseport_worker_bpf_selected_total", "counter", "steered by the program", w -> w.selected());
        series(b, "reuseport_worker_bpf_shadow_total", "counter", "would have been steered (shadow)", w -> w.shadow());
        series(b, "reuseport_worker_bpf_migrated_total", "counter", "migrated from closing listeners",
                w -> w.migrated());
        series(b, "reuseport_worker_latency_p99_seconds", "gauge", "p99 over the window", w -> w.p99Micros() / 1e6);
        netstat.forEach((k, v) -> counter(b, "reuseport_netstat_" + PrometheusExporter.snake(k) + "_total",
                "namespace-wide /proc/net/netstat TcpExt " + k, v));
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" counter\n");
        b.append(name).append(' ').append(num(v)).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" gauge\n");
        b.append(name).append(' ').append(num(v)).append('\n');
    }

    private void series(StringBuilder b, String name, String type, String help,
                        java.util.function.ToDoubleFunction<WorkerMetrics> f) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        for (WorkerMetrics w : workers) {
            b.append(name).append("{slot=\"").append(w.slot()).append("\"} ").append(num(f.applyAsDouble(w))).append('\n');
        }
    }

    private static String num(double v) {
        return PrometheusExporter.num(v);
    }
}
