package dev.reuseport.fleet;

import dev.reuseport.Controller;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A host without a group (scale runs): the controller's states and arrows, no sockets. Setup failures
 * recorded in ENFORCE above {@code failuresAbove} for {@code k} windows make it fall back by itself, as the
 * real controller does.
 */
final class SimulatedDriver implements HostDriver {
    private final int k;
    private final long failuresAbove;
    private final AtomicLong setupFailures = new AtomicLong();
    private final AtomicLong restartFailures = new AtomicLong();
    private final List<String> audit = new ArrayList<>();
    private Controller.State state = Controller.State.OBSERVE;
    private String candidate = "consistent";
    private String policy = "kernel-hash";
    private long tableVersion;
    private int streak;

    SimulatedDriver(int k, long failuresAbove) {
        this.k = k;
        this.failuresAbove = failuresAbove;
    }

    @Override
    public synchronized Controller.State state() {
        return state;
    }

    @Override
    public synchronized String candidate() {
        return candidate;
    }

    @Override
    public synchronized String policy() {
        return policy;
    }

    @Override
    public synchronized long tableVersion() {
        return tableVersion;
    }

    @Override
    public synchronized Window tick() {
        long f = setupFailures.getAndSet(0);
        if (state == Controller.State.ENFORCE) {
            streak = f > failuresAbove ? streak + 1 : 0;
            if (streak >= k) {
                move(Controller.State.FALLBACK, "regression for " + streak + " windows: " + f + " setup failures");
            }
        }
        return new Window(1.0, 0, 100, f, restartFailures.getAndSet(0));
    }

    @Override
    public synchronized void to(Controller.State target, String reason) {
        move(target, "operator: " + reason);
    }

    private void move(Controller.State target, String reason) {
        Controller.State from = state;
        state = target;
        streak = 0;
        switch (target) {
            case ENFORCE -> {
                policy = candidate;
                tableVersion++;
            }
            case OBSERVE, FALLBACK -> policy = "kernel-hash";
            default -> { }
        }
        audit("transition", "from", from.name(), "to", target.name(), "reason", reason);
    }

    @Override
    public synchronized void candidate(String spec) {
        dev.reuseport.Policy.parse(spec);
        candidate = spec;
    }

    @Override
    public void recordSetupFailures(long n) {
        setupFailures.addAndGet(n);
    }

    @Override
    public void recordRestartFailures(long n) {
        restartFailures.addAndGet(n);
    }

    @Override
    public synchronized void audit(String event, Object... kv) {
        StringBuilder b = new StringBuilder(event);
        for (Object o : kv) {
            b.append(' ').append(o);
        }
        audit.add(b.toString());
        if (audit.size() > 100) {
            audit.remove(0);
        }
    }

    synchronized List<String> auditLines() {
        return List.copyOf(audit);
    }

    @Override
    public void close() {
    }
}
