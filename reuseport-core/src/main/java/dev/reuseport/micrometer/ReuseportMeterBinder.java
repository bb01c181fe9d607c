package dev.reuseport.micrometer;

import dev.reuseport.GroupMetrics;
import dev.reuseport.MetricsSampler;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerMetrics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.IOException;
import java.time.Duration;
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

    private synchronized GroupMetrics metrics() {
        long now = System.nanoTime();
        if (latest == null || now - latestNanos >= refresh.toNanos()) {
            try {
                latest = sampler.sample();
                latestNanos = now;
            } catch (IOException e) {
                // a closed group: keep the last values
            }
        }
        return latest;
    }

    /**
     * Registers the group's meters: the imbalance, shadow-imbalance and p99-divergence ratios, the policy
     * generation and the restart count, and per worker (tagged {@code slot}) accepted, received, drops,
     * queue depth, steered and migrated counts and the p99 latency in microseconds. Per-worker meters are
     * registered for the slots the group has now; workers added later are not registered.
     *
     * @param registry where to register them
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("reuseport.imbalance.ratio", this, b -> value(b, GroupMetrics::imbalance)).tags(tags)
                .description("max/mean of per-worker rate over the window").register(registry);
        Gauge.builder("reuseport.shadow.imbalance.ratio", this, b -> value(b, GroupMetrics::shadowImbalance))
                .tags(tags).description("predicted imbalance of the shadowed policy").register(registry);
        Gauge.builder("reuseport.p99.divergence.ratio", this, b -> value(b, GroupMetrics::p99Divergence)).tags(tags)
                .register(registry);
        Gauge.builder("reuseport.policy.generation", group, g -> g.tableVersion()).tags(tags).register(registry);
        FunctionCounter.builder("reuseport.restarts", group, g -> g.restarts()).tags(tags).register(registry);
        for (int slot : group.slots()) {
            Tags t = tags.and("slot", Integer.toString(slot));
            FunctionCounter.builder("reuseport.worker.accepted", this, b -> worker(b, slot, WorkerMetrics::accepted))
                    .tags(t).register(registry);
            FunctionCounter.builder("reuseport.worker.received", this, b -> worker(b, slot, WorkerMetrics::received))
                    .tags(t).register(registry);
            FunctionCounter.builder("reuseport.worker.drops", this, b -> worker(b, slot, WorkerMetrics::drops))
                    .tags(t).description("kernel drops (SO_MEMINFO)").register(registry);
            Gauge.builder("reuseport.worker.queue.depth", this, b -> worker(b, slot, WorkerMetrics::queueDepth))
                    .tags(t).register(registry);
            FunctionCounter.builder("reuseport.worker.bpf.selected", this, b -> worker(b, slot, WorkerMetrics::selected))
                    .tags(t).register(registry);
            FunctionCounter.builder("reuseport.worker.bpf.migrated", this, b -> worker(b, slot, WorkerMetrics::migrated))
                    .tags(t).register(registry);
            Gauge.builder("reuseport.worker.latency.p99", this, b -> worker(b, slot, WorkerMetrics::p99Micros))
                    .tags(t).baseUnit("microseconds").register(registry);
        }
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
