package dev.reuseport.fleet;

import dev.reuseport.Controller;
import dev.reuseport.GroupMetrics;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.WorkerMetrics;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/** A real group: a manual controller the agent ticks, replaced when the candidate policy changes. */
final class ControllerDriver implements HostDriver {
    private final ReuseportGroup group;
    private final Controller.Settings settings;
    private final AtomicLong setupFailures = new AtomicLong();
    private final AtomicLong restartFailures = new AtomicLong();
    private volatile Controller controller;
    private long lastDrops = -1;
    private long lastMigrateFailures = -1;

    ControllerDriver(ReuseportGroup group, Controller.Settings settings, Policy initial) {
        if (group.controller() != null) {
            throw new FleetInputException("group " + group + " already has a controller; accepted: a group without "
                    + "one (the fleet agent drives its own)");
        }
        this.group = group;
        // The fleet moves SHADOW and ENFORCE; the host still falls back by itself, and holds the fallback.
        this.settings = settings.toBuilder().automatic(false).coolDown(java.time.Duration.ZERO).build();
        this.controller = Controller.manual(group, initial, this.settings);
    }

    Controller controller() {
        return controller;
    }

    @Override
    public Controller.State state() {
        return controller.state();
    }

    @Override
    public String candidate() {
        return controller.candidate().spec();
    }

    @Override
    public String policy() {
        return group.policy().spec();
    }

    @Override
    public long tableVersion() {
        return group.tableVersion();
    }

    @Override
    public Window tick() throws IOException {
        GroupMetrics m = controller.tick();
        long drops = m.drops();
        long d = lastDrops < 0 ? 0 : Math.max(0, drops - lastDrops);
        lastDrops = drops;
        long mig = m.netstat().getOrDefault("TCPMigrateReqFailure", 0L);
        long rf = lastMigrateFailures < 0 ? 0 : Math.max(0, mig - lastMigrateFailures);
        lastMigrateFailures = mig;
        long p99 = m.workers().stream().mapToLong(WorkerMetrics::p99Micros).max().orElse(0);
        return new Window(m.imbalance(), d, p99, setupFailures.getAndSet(0), rf + restartFailures.getAndSet(0));
    }

    @Override
    public void to(Controller.State target, String reason) throws IOException {
        controller.to(target, reason);
    }

    @Override
    public void candidate(String spec) {
        Policy p = Policy.parse(spec);
        controller.close();
        controller = Controller.manual(group, p, settings);
    }

    @Override
    public void recordSetupFailures(long n) {
        setupFailures.addAndGet(n);
        controller.recordSetupFailures(n);
    }

    @Override
    public void recordRestartFailures(long n) {
        restartFailures.addAndGet(n);
    }

    @Override
    public void audit(String event, Object... kv) {
        group.audit().record(event, kv);
    }

    @Override
    public void close() {
        controller.close();
    }
}
