package dev.reuseport.micrometer;

import dev.reuseport.ControlState;
import dev.reuseport.GroupMetrics;
import dev.reuseport.MetricsSampler;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerMetrics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for a group, one series per worker tagged {@code slot}, plus the derived ratios.
 * Micrometer is an optional dependency: add {@code io.micrometer:micrometer-core} to use this class.
 * Values come from a sampler refreshed at most once per {@code refresh} (so a scrape of many meters
 * reads one consistent window).
 *
 * <p>On the module path, a module using this class also {@code requires micrometer.core}: module
 * {@code dev.reuseport} requires it only statically.
 */
// "exports": the Micrometer types in this class's signatures are not re-exported by dev.reuseport
// (requires static, not transitive; see module-info.java), which is deliberate for an optional dependency.
@SuppressWarnings("exports")
public final class ReuseportMeterBinder implements MeterBinder {
    private final ReuseportGroup group;
    private final MetricsSampler sampler;
    private final Duration refresh;
    private final Tags tags;
    private volatile GroupMetrics latest;
    private volatile long latestNanos;

    /**
     * A binder for one group's metrics. Meters are registered by {@link #bindTo(MeterRegistry)}; they all
     * read the latest window of this binder's own sampler, which is sampled again when it is older than
     * {@code refresh}. Once the group is closed the meters keep their last values.
     *
     * @param group   the group to observe
     * @param refresh the longest a sampled window is reused, e.g. the scrape interval
     * @param tags    tags added to every meter, besides {@code protocol}, {@code port} and {@code slot}
     */
    public ReuseportMeterBinder(ReuseportGroup group, Duration refresh, Tags tags) {
        this.group = group;
        this.sampler = group.newSampler();
        this.refresh = refresh;
        this.tags = tags.and("protocol", group.protocol().name(), "port",
                Integer.toString(group.localAddress().getPort()));
    }

    /** Registries bound so far, each with the per-worker meters registered there, by slot. */
    private final Map<MeterRegistry, Map<Integer, List<Meter>>> bound = new LinkedHashMap<>();

    private GroupMetrics metrics() {
        GroupMetrics m;
        boolean fresh = false;
        synchronized (this) {
            long now = System.nanoTime();
            if (latest == null || now - latestNanos >= refresh.toNanos()) {
                try {
                    latest = sampler.sample();
                    latestNanos = now;
                    fresh = true;
                } catch (IOException e) {
                    // a closed group: keep the last values
                }
            }
            m = latest;
        }
        if (fresh) {
            follow(m);
        }
        return m;
    }

    /**
     * Makes the per-worker meters follow membership: meters for the slots the latest window has, none for
     * the others (removed from the registries). Runs at every new window, and at {@link #bindTo}.
     */
    private void follow(GroupMetrics m) {
        if (m == null) {
            return;
        }
        java.util.Set<Integer> live = new java.util.TreeSet<>();
        for (WorkerMetrics w : m.workers()) {
            live.add(w.slot());
        }
        synchronized (bound) {
            for (Map.Entry<MeterRegistry, Map<Integer, List<Meter>>> e : bound.entrySet()) {
                MeterRegistry registry = e.getKey();
                Map<Integer, List<Meter>> bySlot = e.getValue();
                for (java.util.Iterator<Map.Entry<Integer, List<Meter>>> it = bySlot.entrySet().iterator(); it.hasNext();) {
                    Map.Entry<Integer, List<Meter>> s = it.next();
                    if (!live.contains(s.getKey())) {
                        s.getValue().forEach(registry::remove);
                        it.remove();
                    }
                }
                for (int slot : live) {
                    bySlot.computeIfAbsent(slot, sl -> register(registry, sl));
                }
            }
        }
    }

    private List<Meter> register(MeterRegistry registry, int slot) {
        Tags t = tags.and("slot", Integer.toString(slot));
        List<Meter> ms = new ArrayList<>();
        ms.add(FunctionCounter.builder("reuseport.worker.accepted", group, g -> worker(this, slot, WorkerMetrics::accepted))
                .tags(t).register(registry));
        ms.add(FunctionCounter.builder("reuseport.worker.received", group, g -> worker(this, slot, WorkerMetrics::received))
                .tags(t).register(registry));
        ms.add(FunctionCounter.builder("reuseport.worker.drops", group, g -> worker(this, slot, WorkerMetrics::drops))
                .tags(t).description("kernel drops (SO_MEMINFO)").register(registry));
        ms.add(Gauge.builder("reuseport.worker.queue.depth", group, g -> worker(this, slot, WorkerMetrics::queueDepth))
                .tags(t).register(registry));
        ms.add(Gauge.builder("reuseport.worker.queue.limit", group, g -> worker(this, slot, WorkerMetrics::queueLimit))
                .tags(t).register(registry));
        ms.add(FunctionCounter.builder("reuseport.worker.bpf.selected", group, g -> worker(this, slot, WorkerMetrics::selected))
                .tags(t).register(registry));
        ms.add(FunctionCounter.builder("reuseport.worker.bpf.migrated", group, g -> worker(this, slot, WorkerMetrics::migrated))
                .tags(t).register(registry));
        ms.add(Gauge.builder("reuseport.worker.latency.p99", group, g -> worker(this, slot, WorkerMetrics::p99Micros))
                .tags(t).baseUnit("microseconds").register(registry));
        return ms;
    }

    /**
     * Registers the group's meters: the imbalance, shadow-imbalance and p99-divergence ratios, the steering
     * table version ({@code reuseport.policy.table.version}), the restart count, the control state ({@code reuseport.control.state}, one gauge per
     * state tagged {@code state}, 1 for the state in force, {@code NONE} when no controller runs), and per
     * worker (tagged {@code slot}) accepted, received, drops, queue depth and limit, steered and migrated
     * counts and the p99 latency in microseconds. The per-worker meters follow membership: each new window
     * of this binder (at most one per {@code refresh}, taken when a meter is read) registers meters for
     * workers that joined and removes those of workers that left, so a resize leaves no stale meter.
     *
     * @param registry where to register them
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("reuseport.imbalance.ratio", group, g -> value(this, GroupMetrics::imbalance)).tags(tags)
                .description("max/mean of per-worker rate over the window").register(registry);
        Gauge.builder("reuseport.shadow.imbalance.ratio", group, g -> value(this, GroupMetrics::shadowImbalance))
                .tags(tags).description("predicted imbalance of the shadowed policy").register(registry);
        Gauge.builder("reuseport.p99.divergence.ratio", group, g -> value(this, GroupMetrics::p99Divergence)).tags(tags)
                .register(registry);
        Gauge.builder("reuseport.policy.table.version", group, g -> g.tableVersion()).tags(tags)
                .description("version of the steering table in force").register(registry);
        FunctionCounter.builder("reuseport.restarts", group, g -> g.restarts()).tags(tags).register(registry);
        for (ControlState st : ControlState.values()) {
            Gauge.builder("reuseport.control.state", group, g -> g.controllerState() == st ? 1 : 0)
                    .tags(tags.and("state", st.name())).description("1 for the control state in force").register(registry);
        }
        Gauge.builder("reuseport.workers", group, g -> value(this, m -> m.workers().size())).tags(tags)
                .description("live workers").register(registry);
        synchronized (bound) {
            bound.putIfAbsent(registry, new java.util.TreeMap<>());
        }
        follow(metrics());
    }

    private static double value(ReuseportMeterBinder b, ToDoubleFunction<GroupMetrics> f) {
        GroupMetrics m = b.metrics();
        return m == null ? Double.NaN : f.applyAsDouble(m);
    }

    private static double worker(ReuseportMeterBinder b, int slot, ToDoubleFunction<WorkerMetrics> f) {
        GroupMetrics m = b.metrics();
        if (m == null) {
            return Double.NaN;
        }
        for (WorkerMetrics w : m.workers()) {
            if (w.slot() == slot) {
                return f.applyAsDouble(w);
            }
        }
        return Double.NaN;
    }
}
