package dev.reuseport.fleet;

import dev.reuseport.Controller;
import dev.reuseport.Controller.State;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Joins one host's group to a fleet kept in etcd, and drives the group's controller to the desired state
 * of its host group.
 *
 * <p>Once per window the agent ends a window of its own (manual) controller, judges the window against
 * the baseline it recorded in OBSERVE, and publishes its status under a lease at
 * {@code /reuseport/fleet/<service>/hosts/<host>}: state, policy and table version in force, the last
 * step applied, its window count, consecutive healthy windows in that step, and the window's imbalance,
 * drops, p99, setup and restart failures. It watches its desired state (the fleet-wide fallback key, its
 * own host key, its host group's key, in that precedence) and walks the controller there: OBSERVE (a
 * baseline of K windows) → SHADOW (one window) → ENFORCE, or back to OBSERVE or FALLBACK at once. Every
 * step applied is recorded in the group's audit trail as {@code fleet-step} with the rollout id and
 * version.
 *
 * <p>Losing etcd never changes what the host serves: the agent keeps its state and takes no new step
 * (it cannot read one), the controller still falls back by itself on a regression, and once etcd answers
 * again the agent reports the windows it spent offline and everything that happened meanwhile. A local
 * fallback is held until the desired version changes (a rollback or a new step), never re-enforced by
 * itself.
 */
public final class FleetAgent implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.reuseport.fleet");

    private final FleetConfig config;
    private final Etcd etcd;
    private final boolean ownClient;
    private final HostDriver driver;
    private final int k;
    private final double dropsAbove;
    private final double p99Factor;
    private final double failuresAbove;
    private final ScheduledExecutorService exec;
    // etcd calls run here, never on the window's thread nor under the agent's lock: a call that waits for
    // an unreachable etcd (up to its deadline) must not stop the host's windows (its local fallback)
    private final java.util.concurrent.ExecutorService calls;
    private final java.util.concurrent.atomic.AtomicInteger syncRequests = new java.util.concurrent.atomic.AtomicInteger();
    private final boolean ownExec;
    private final ScheduledFuture<?> ticking;
    private final List<Watch.Watcher> watchers = new ArrayList<>();
    private volatile boolean closed;
    private volatile java.time.Clock clock = java.time.Clock.systemUTC();

    // the io side's own (one sync at a time)
    private volatile long lease;
    private long leaseRefreshedNanos;
    private boolean memberWritten;
    private volatile boolean watching;
    private volatile long syncStartedNanos; // 0 when no sync is in flight
    // all below guarded by this
    private boolean connected;
    private Desired desired;
    private volatile boolean dirty = true;
    // the three desired keys as last read or seen in a watch event (written by watch callbacks too)
    private volatile Desired fleetKey;
    private volatile Desired hostKey;
    private volatile Desired groupKey;
    private String applied = "-";
    private String appliedRollout = "-";
    private String heldVersion;
    private boolean regressed;
    private long windows;
    private long healthyWindows;
    private long unhealthyStreak;
    private long observeWindows;
    private long shadowWindows;
    private long offlineWindows;
    private String error = "-";
    private HostDriver.Window last = new HostDriver.Window(0, 0, 0, 0, 0);
    private final double[] baseSum = new double[3];
    private final java.util.ArrayDeque<double[]> base = new java.util.ArrayDeque<>();

    private FleetAgent(FleetConfig config, Client client, HostDriver driver, int k, double dropsAbove, double p99Factor,
                       double failuresAbove, ScheduledExecutorService exec) {
        this.config = config;
        this.ownClient = client == null;
        this.etcd = new Etcd(client == null ? Etcd.connect(config.endpoints()) : client, config.service());
        this.driver = driver;
        this.k = k;
        this.dropsAbove = dropsAbove;
        this.p99Factor = p99Factor;
        this.failuresAbove = failuresAbove;
        this.ownExec = exec == null;
        this.exec = exec != null ? exec : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "reuseport-fleet-" + config.host());
            t.setDaemon(true);
            return t;
        });
        this.calls = exec != null ? exec : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "reuseport-fleet-io-" + config.host());
            t.setDaemon(true);
            return t;
        });
        long w = config.window().toMillis();
        this.ticking = this.exec.scheduleAtFixedRate(this::window, w, w, TimeUnit.MILLISECONDS);
        requestSync();
    }

    /**
     * Joins a group to the fleet: the agent makes the group's controller (manual, moved by the fleet;
     * it still falls back by itself on a regression and holds the fallback) and starts its window.
     *
     * @param config    where and as whom
     * @param group     the group this host serves; it must not have a controller yet
     * @param settings  the controller's thresholds (K, drops, p99 factor, setup failures); {@code automatic}
     *                  and {@code coolDown} are overridden (false, zero)
     * @return the running agent; {@link #close()} stops it and leaves the group as it is
     * @throws FleetInputException when the group already has a controller
     */
    public static FleetAgent join(FleetConfig config, ReuseportGroup group, Controller.Settings settings) {
        ControllerDriver d = new ControllerDriver(group, settings, Policy.consistent());
        return new FleetAgent(config, null, d, settings.windows(), settings.dropsAbove(), settings.p99Factor(),
                settings.failuresAbove(), null);
    }

    /**
     * A simulated host: the agent, its lease and its status, over a host without sockets that moves
     * through the controller's states (scale runs: a thousand of them share one client and one scheduler).
     *
     * @param config   where and as whom
     * @param client   a jetcd client shared by the simulated hosts
     * @param exec     a scheduler shared by them
     * @param k        windows a gate or a regression must hold
     * @return the running agent
     */
    public static FleetAgent simulated(FleetConfig config, Client client, ScheduledExecutorService exec, int k) {
        return new FleetAgent(config, client, new SimulatedDriver(k, 5), k, 10, 2.0, 5, exec);
    }

    /**
     * The config it joined with.
     *
     * @return the config
     */
    public FleetConfig config() {
        return config;
    }

    /**
     * Sets the clock the host's status is stamped with ({@code time}, information only). Nothing the fleet
     * decides reads it: gates count the windows hosts report, so a host whose clock is skewed or stopped is
     * gated like any other (tests inject such a clock).
     *
     * @param c the host's clock
     * @return this agent
     */
    public FleetAgent clock(java.time.Clock c) {
        this.clock = java.util.Objects.requireNonNull(c, "clock");
        return this;
    }

    /**
     * The controller the agent drives, or null for a simulated host.
     *
     * @return the group's controller
     */
    public Controller controller() {
        return driver instanceof ControllerDriver c ? c.controller() : null;
    }

    /**
     * The control state now.
     *
     * @return the state of the controller
     */
    public State state() {
        return driver.state();
    }

    /**
     * Reports connection setups that failed in the current window (to the controller as well).
     *
     * @param n how many since the last report
     */
    public void recordSetupFailures(long n) {
        driver.recordSetupFailures(n);
    }

    /**
     * Reports restarts that failed in the current window (failed migrations are counted already).
     *
     * @param n how many since the last report
     */
    public void recordRestartFailures(long n) {
        driver.recordRestartFailures(n);
    }

    /**
     * Whether etcd answers: the last call succeeded and none has been waiting for half the status lease.
     *
     * @return true while etcd answers
     */
    public synchronized boolean connected() {
        return connected && !stalled();
    }

    /** A call to etcd in flight for half the lease: the host's status may lapse; the host counts itself offline. */
    private boolean stalled() {
        long t = syncStartedNanos;
        return t != 0 && System.nanoTime() - t > config.leaseTtl().toNanos() / 2;
    }

    /**
     * The version of the last desired step applied.
     *
     * @return the version, {@code -} before any
     */
    public synchronized String applied() {
        return applied;
    }

    /**
     * Windows ended since it joined.
     *
     * @return the count
     */
    public synchronized long windows() {
        return windows;
    }

    /**
     * Windows ended without etcd.
     *
     * @return the count
     */
    public synchronized long offlineWindows() {
        return offlineWindows;
    }

    // --- the window ---

    private void window() {
        if (closed) {
            return;
        }
        synchronized (this) {
            try {
                State before = driver.state();
                HostDriver.Window w = driver.tick();
                windows++;
                if (before != State.FALLBACK && driver.state() == State.FALLBACK) {
                    // The controller fell back by itself: held until the desired version changes.
                    heldVersion = desired != null ? desired.version() : applied;
                    regressed = true;
                    driver.audit("fleet-regression", "host", config.host(), "rollout", appliedRollout, "version",
                            applied, "reason", "local fallback", "connected", connected);
                }
                judge(w);
            } catch (Exception e) {
                error = String.valueOf(e.getMessage()).replace('\n', ' ');
            }
            if (connected && stalled()) {
                // etcd has not answered for half the lease (a silent partition): offline from now on, until a
                // call succeeds (the call in flight still runs to its deadline on the io side)
                connected = false;
                error = "etcd has not answered for " + (System.nanoTime() - syncStartedNanos) / 1_000_000 + " ms";
                driver.audit("fleet-disconnected", "host", config.host(), "error", error);
            }
            if (!connected) {
                offlineWindows++;
            }
            if (windows % 5 == 0) {
                dirty = true;
            }
            step(true);
        }
        requestSync();
    }

    private void judge(HostDriver.Window w) {
        last = w;
        State s = driver.state();
        if (s == State.OBSERVE) {
            observeWindows++;
            double[] b = {w.drops(), w.p99Micros(), w.setupFailures()};
            base.addLast(b);
            for (int i = 0; i < 3; i++) {
                baseSum[i] += b[i];
            }
            if (base.size() > 10) {
                double[] old = base.removeFirst();
                for (int i = 0; i < 3; i++) {
                    baseSum[i] -= old[i];
                }
            }
        }
        if (s == State.SHADOW) {
            shadowWindows++;
        }
        int n = Math.max(1, base.size());
        boolean fleetFallback = s == State.FALLBACK && desired != null && desired.state() == State.FALLBACK;
        boolean healthy = (s != State.FALLBACK || fleetFallback)
                && w.drops() <= baseSum[0] / n + dropsAbove
                && (baseSum[1] == 0 || w.p99Micros() <= baseSum[1] / n * p99Factor)
                && w.setupFailures() <= baseSum[2] / n + failuresAbove && w.restartFailures() == 0;
        unhealthyStreak = healthy ? 0 : unhealthyStreak + 1;
        healthyWindows = healthy ? healthyWindows + 1 : 0;
        if (unhealthyStreak >= k && !regressed && !"-".equals(applied)) {
            regressed = true;
            driver.audit("fleet-regression", "host", config.host(), "rollout", appliedRollout, "version", applied,
                    "windows", unhealthyStreak);
        }
    }

    // --- desired state ---

    /** Asks the io side for a sync; requests made while one runs fold into one more run. */
    private void requestSync() {
        if (!closed && syncRequests.getAndIncrement() == 0) {
            try {
                calls.execute(this::drainSyncs);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }
    }

    private void drainSyncs() {
        int n = syncRequests.get();
        while (true) {
            sync();
            n = syncRequests.addAndGet(-n);
            if (n == 0) {
                return;
            }
        }
    }

    /** Reads the desired keys when needed, takes a step and publishes; etcd is called without the lock. */
    private void sync() {
        if (closed) {
            return;
        }
        syncStartedNanos = System.nanoTime();
        try {
            if (!memberWritten) {
                etcd.put(etcd.member(config.host()), Map.of("group", config.hostGroup()), 0);
                memberWritten = true;
            }
            if (!watching) {
                watch();
            }
            if (dirty) {
                dirty = false;
                fleetKey = Desired.from(etcd.fields(etcd.desiredFleet()));
                hostKey = Desired.from(etcd.fields(etcd.desiredHost(config.host())));
                groupKey = Desired.from(etcd.fields(etcd.desiredGroup(config.hostGroup())));
            }
            boolean wasOffline;
            Map<String, Object> status;
            synchronized (this) {
                desired = Desired.resolve(config.host(), fleetKey, hostKey, groupKey);
                wasOffline = !connected;
                connected = true;
                step(false);
                status = status();
            }
            publish(status);
            synchronized (this) {
                if (wasOffline && windows > 0) {
                    driver.audit("fleet-connected", "host", config.host(), "offline_windows", offlineWindows, "state",
                            driver.state().name(), "applied", applied);
                }
            }
        } catch (FleetException e) {
            synchronized (this) {
                if (connected) {
                    driver.audit("fleet-disconnected", "host", config.host(), "error", e.getMessage());
                }
                connected = false;
                error = String.valueOf(e.getMessage()).replace('\n', ' ');
            }
        } finally {
            syncStartedNanos = 0;
        }
    }

    private void watch() {
        Watch w = etcd.client.getWatchClient();
        synchronized (watchers) {
            for (String key : List.of(etcd.desiredFleet(), etcd.desiredHost(config.host()),
                    etcd.desiredGroup(config.hostGroup()))) {
                watchers.add(w.watch(Etcd.bs(key), Watch.listener(this::changed, e -> watchFailed(e))));
            }
        }
        watching = true;
    }

    // Watch callbacks run on the client's event loop: they never take the agent's lock (the agent may be
    // inside a blocking call that needs that very loop); they mark and hand over to the agent's executor.
    private void changed(io.etcd.jetcd.watch.WatchResponse r) {
        // the event carries the new value: no read needed before the step (a fleet fallback is one round trip)
        for (io.etcd.jetcd.watch.WatchEvent e : r.getEvents()) {
            String key = Etcd.str(e.getKeyValue().getKey());
            Desired d = e.getEventType() == io.etcd.jetcd.watch.WatchEvent.EventType.PUT
                    ? Desired.from(Fields.decode(e.getKeyValue().getValue().getBytes())) : null;
            if (key.equals(etcd.desiredFleet())) {
                fleetKey = d;
            } else if (key.equals(etcd.desiredHost(config.host()))) {
                hostKey = d;
            } else if (key.equals(etcd.desiredGroup(config.hostGroup()))) {
                groupKey = d;
            } else {
                dirty = true;
            }
        }
        requestSync();
    }

    private void watchFailed(Throwable e) {
        LOG.log(System.Logger.Level.DEBUG, "watch of " + config.host() + ": " + e);
        dirty = true;
        if (!closed) {
            try {
                calls.execute(this::rewatch);
            } catch (java.util.concurrent.RejectedExecutionException x) {
                // closing
            }
        }
    }

    private void rewatch() {
        synchronized (watchers) {
            for (Watch.Watcher w : watchers) {
                w.close();
            }
            watchers.clear();
            watching = false;
        }
        requestSync();
    }

    /**
     * One move toward the desired state. Moves that need windows (a baseline, a shadow window) happen only
     * at a window's end ({@code atWindow}); FALLBACK and OBSERVE happen at once.
     */
    private void step(boolean atWindow) {
        Desired d = desired;
        if (d == null || !connected || d.version().equals(applied) || d.version().equals(heldVersion)) {
            return;
        }
        try {
            State s = driver.state();
            State target = d.state();
            boolean kernel = "kernel-hash".equals(d.policy().trim());
            if (target == State.FALLBACK) {
                if (s != State.FALLBACK) {
                    driver.to(State.FALLBACK, "fleet " + d.rollout() + " " + d.version());
                }
                done(d);
            } else if (target == State.OBSERVE || kernel) {
                if (s != State.OBSERVE) {
                    driver.to(State.OBSERVE, "fleet " + d.rollout() + " " + d.version());
                }
                done(d);
            } else if (!Policy.parse(d.policy()).spec().equals(driver.candidate())) {
                if (s != State.OBSERVE && s != State.FALLBACK) {
                    driver.to(State.OBSERVE, "fleet: new candidate " + d.policy());
                }
                driver.candidate(d.policy());
                observeWindows = 0;
                shadowWindows = 0;
            } else if (s == State.FALLBACK) {
                driver.to(State.OBSERVE, "fleet " + d.rollout() + " " + d.version());
                observeWindows = 0;
            } else if (s == State.OBSERVE) {
                if (atWindow && observeWindows >= k) {
                    driver.to(State.SHADOW, "fleet " + d.rollout() + " " + d.version());
                    shadowWindows = 0;
                    if (target == State.SHADOW) {
                        done(d);
                    }
                }
            } else if (s == State.SHADOW) {
                if (target == State.SHADOW) {
                    done(d);
                } else if (atWindow && shadowWindows >= 1) {
                    driver.to(State.ENFORCE, "fleet " + d.rollout() + " " + d.version());
                    done(d);
                }
            } else if (s == State.ENFORCE) {
                if (target == State.ENFORCE) {
                    done(d);
                } else {
                    driver.to(State.OBSERVE, "fleet " + d.rollout() + " " + d.version());
                }
            }
        } catch (Exception e) {
            error = String.valueOf(e.getMessage()).replace('\n', ' ');
            driver.audit("fleet-step-failed", "host", config.host(), "rollout", d.rollout(), "version", d.version(),
                    "error", error);
        }
    }

    private void done(Desired d) {
        applied = d.version();
        appliedRollout = d.rollout();
        heldVersion = null;
        regressed = false;
        healthyWindows = 0;
        unhealthyStreak = 0;
        driver.audit("fleet-step", "host", config.host(), "rollout", d.rollout(), "version", d.version(), "policy",
                driver.policy(), "state", driver.state().name(), "table_version", driver.tableVersion());
    }

    /** The status to publish (under the lock). */
    private Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("group", config.hostGroup());
        m.put("state", driver.state().name());
        m.put("policy", driver.policy());
        m.put("table_version", driver.tableVersion());
        m.put("applied", applied);
        m.put("rollout", appliedRollout);
        m.put("windows", windows);
        m.put("healthy_windows", healthyWindows);
        m.put("regressed", regressed);
        m.put("imbalance", String.format(java.util.Locale.ROOT, "%.3f", last.imbalance()));
        m.put("drops", last.drops());
        m.put("p99_us", last.p99Micros());
        m.put("setup_failures", last.setupFailures());
        m.put("restart_failures", last.restartFailures());
        m.put("offline_windows", offlineWindows);
        m.put("error", error);
        m.put("time", clock.instant().toString());
        return m;
    }

    /** Puts the status under the host's lease (the io side: etcd calls, no lock). */
    private void publish(Map<String, Object> m) {
        if (lease == 0 || System.nanoTime() - leaseRefreshedNanos > config.leaseTtl().toNanos() / 3) {
            if (lease == 0 || !etcd.keepAlive(lease)) {
                lease = etcd.grant(config.leaseTtl().toSeconds());
            }
            leaseRefreshedNanos = System.nanoTime();
        }
        try {
            etcd.put(etcd.status(config.host()), m, lease);
        } catch (FleetException e) {
            if (String.valueOf(e.getMessage()).contains("lease not found")) {
                lease = 0;
            }
            throw e;
        }
    }

    /**
     * Leaves the fleet for good: removes this host's membership (a rollout no longer waits for it) and
     * its status, then stops as {@link #close()} does.
     */
    public void leave() {
        try {
            etcd.delete(etcd.member(config.host()));
        } catch (FleetException e) {
            LOG.log(System.Logger.Level.WARNING, "leave " + config.host() + ": " + e.getMessage());
        }
        close();
    }

    /**
     * Stops the agent: its window ends, its watches close, its lease is revoked (its status disappears)
     * and its controller is closed. The group keeps the policy in force.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ticking.cancel(false);
        synchronized (watchers) {
            for (Watch.Watcher w : watchers) {
                w.close();
            }
            watchers.clear();
        }
        if (ownExec) {
            exec.shutdownNow();
            calls.shutdownNow();
        }
        long l = lease;
        if (l != 0) {
            try {
                etcd.revoke(l, java.time.Duration.ofMillis(500));
            } catch (FleetException e) {
                LOG.log(System.Logger.Level.DEBUG, "revoke " + config.host() + ": " + e.getMessage());
            }
        }
        driver.close();
        if (ownClient) {
            etcd.client.close();
        }
    }
}
