package dev.reuseport;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The control state machine of one group (the playbook's section 6):
 * <pre>
 *   OBSERVE ──imbalance above X for K windows──▶ SHADOW ──predicted gain for K windows──▶ ENFORCE
 *      ▲                                            │                                     │
 *      └──────── operator release, or cool-down ── FALLBACK ◀── regression for K windows ─┘
 * </pre>
 * OBSERVE runs the kernel hash and records the baseline (drops, p99, setup failures per window).
 * SHADOW runs the candidate policy in count-only mode: the kernel still chooses, the shadow counters
 * predict the spread. ENFORCE applies the candidate. FALLBACK is one step back to the kernel default
 * (mode PASS: two map updates), entered automatically when ENFORCE regresses against the baseline, or
 * by the operator from any state; it is held until the operator releases it or the cool-down passes.
 * Every transition is audited and emitted as a JFR event.
 */
public final class Controller implements AutoCloseable {
    /** The four states. */
    public enum State {
        /** Kernel hash; baseline recorded. */
        OBSERVE,
        /** Candidate policy counted, not enforced. */
        SHADOW,
        /** Candidate policy in force. */
        ENFORCE,
        /** Back on the kernel default, held. */
        FALLBACK
    }

    private static final Map<State, Set<State>> ALLOWED = Map.of(
            State.OBSERVE, EnumSet.of(State.SHADOW, State.FALLBACK),
            State.SHADOW, EnumSet.of(State.ENFORCE, State.OBSERVE, State.FALLBACK),
            State.ENFORCE, EnumSet.of(State.FALLBACK, State.OBSERVE),
            State.FALLBACK, EnumSet.of(State.OBSERVE, State.FALLBACK));

    /**
     * Thresholds and hysteresis.
     *
     * @param window         one sampling window
     * @param windows        K: consecutive windows a trigger must hold
     * @param shadowAbove    OBSERVE → SHADOW when the imbalance ratio is above this
     * @param enforceGain    SHADOW → ENFORCE when predicted imbalance ≤ observed × this (and ≤ 1.5)
     * @param dropsAbove     ENFORCE → FALLBACK when drops per window exceed the baseline by more than this
     * @param p99Factor      ENFORCE → FALLBACK when the worst p99 exceeds the baseline's × this
     * @param failuresAbove  ENFORCE → FALLBACK when reported setup failures per window exceed the baseline by this
     * @param coolDown       FALLBACK → OBSERVE after this long without an operator; zero holds FALLBACK
     *                       until an operator releases it
     * @param automatic      whether OBSERVE → SHADOW → ENFORCE move by themselves (fallback always does)
     */
    public record Settings(Duration window, int windows, double shadowAbove, double enforceGain, long dropsAbove,
                           double p99Factor, long failuresAbove, Duration coolDown, boolean automatic) {
        /**
         * Checks the values.
         *
         * @throws IllegalArgumentException naming the value at fault and the accepted range: window 1 ms
         *                                  to 1 h, windows 1 to 1000, shadowAbove at least 1, enforceGain
         *                                  in (0, 1], p99Factor at least 1, dropsAbove and failuresAbove
         *                                  at least 0, coolDown zero or positive
         */
        public Settings {
            if (window.isNegative() || window.isZero() || window.toMillis() > 3_600_000) {
                throw new IllegalArgumentException("window " + window + "; accepted: 1 ms .. 1 h");
            }
            if (windows < 1 || windows > 1000) {
                throw new IllegalArgumentException("windows " + windows + "; accepted: 1..1000");
            }
            if (!(shadowAbove >= 1.0) || !(enforceGain > 0 && enforceGain <= 1.0) || !(p99Factor >= 1.0)) {
                throw new IllegalArgumentException("shadowAbove " + shadowAbove + ", enforceGain " + enforceGain
                        + ", p99Factor " + p99Factor + "; accepted: shadowAbove >= 1, 0 < enforceGain <= 1, p99Factor >= 1");
            }
            if (coolDown == null || coolDown.isNegative()) {
                throw new IllegalArgumentException("coolDown " + coolDown + "; accepted: zero (hold until an operator "
                        + "releases) or a positive duration");
            }
            if (dropsAbove < 0 || failuresAbove < 0) {
                throw new IllegalArgumentException("dropsAbove " + dropsAbove + ", failuresAbove " + failuresAbove
                        + "; accepted: 0 or more");
            }
        }

        /**
         * The defaults: 1 s windows, K = 3, shadow above an imbalance of 1.5, enforce when the prediction is
         * at most 0.8 times the observed imbalance, fall back on 10 more drops per window, twice the p99 or
         * 5 more setup failures, hold FALLBACK for 60 s, move automatically.
         *
         * @return those settings
         */
        public static Settings defaults() {
            return new Settings(Duration.ofSeconds(1), 3, 1.5, 0.8, 10, 2.0, 5, Duration.ofSeconds(60), true);
        }

        // --- builder (issue 12): additive; the canonical constructor stays ---

        /**
         * A builder starting from {@link #defaults()}: set only what differs, by name.
         *
         * @return a builder holding the defaults
         */
        public static Builder builder() {
            return defaults().toBuilder();
        }

        /**
         * A builder starting from these settings.
         *
         * @return a builder holding this record's values
         */
        public Builder toBuilder() {
            return new Builder(this);
        }

        /** Named setters over {@link Settings}; {@link #build()} checks the values as the constructor does. */
        public static final class Builder {
            private Duration window;
            private int windows;
            private double shadowAbove;
            private double enforceGain;
            private long dropsAbove;
            private double p99Factor;
            private long failuresAbove;
            private Duration coolDown;
            private boolean automatic;

            private Builder(Settings s) {
                window = s.window;
                windows = s.windows;
                shadowAbove = s.shadowAbove;
                enforceGain = s.enforceGain;
                dropsAbove = s.dropsAbove;
                p99Factor = s.p99Factor;
                failuresAbove = s.failuresAbove;
                coolDown = s.coolDown;
                automatic = s.automatic;
            }

            /**
             * Sets the window length.
             *
             * @param v 1 ms to 1 h
             * @return this builder
             */
            public Builder window(Duration v) {
                window = v;
                return this;
            }

            /**
             * Sets how many windows in a row a condition must hold.
             *
             * @param v 1 to 1000
             * @return this builder
             */
            public Builder windows(int v) {
                windows = v;
                return this;
            }

            /**
             * Sets the imbalance above which OBSERVE moves to SHADOW.
             *
             * @param v at least 1
             * @return this builder
             */
            public Builder shadowAbove(double v) {
                shadowAbove = v;
                return this;
            }

            /**
             * Sets the predicted-to-observed imbalance ratio at or below which SHADOW moves to ENFORCE.
             *
             * @param v in (0, 1]
             * @return this builder
             */
            public Builder enforceGain(double v) {
                enforceGain = v;
                return this;
            }

            /**
             * Sets the extra drops per window that trigger FALLBACK.
             *
             * @param v 0 or more
             * @return this builder
             */
            public Builder dropsAbove(long v) {
                dropsAbove = v;
                return this;
            }

            /**
             * Sets the p99 growth factor that triggers FALLBACK.
             *
             * @param v at least 1
             * @return this builder
             */
            public Builder p99Factor(double v) {
                p99Factor = v;
                return this;
            }

            /**
             * Sets the extra setup failures per window that trigger FALLBACK.
             *
             * @param v 0 or more
             * @return this builder
             */
            public Builder failuresAbove(long v) {
                failuresAbove = v;
                return this;
            }

            /**
             * Sets how long FALLBACK is held before OBSERVE.
             *
             * @param v zero (hold until an operator) or positive
             * @return this builder
             */
            public Builder coolDown(Duration v) {
                coolDown = v;
                return this;
            }

            /**
             * Sets whether OBSERVE, SHADOW and ENFORCE move by themselves.
             *
             * @param v true to move automatically
             * @return this builder
             */
            public Builder automatic(boolean v) {
                automatic = v;
                return this;
            }

            /**
             * The settings.
             *
             * @return a checked {@link Settings}
             * @throws IllegalArgumentException naming a value out of range (see {@link Settings})
             */
            public Settings build() {
                return new Settings(window, windows, shadowAbove, enforceGain, dropsAbove, p99Factor, failuresAbove,
                        coolDown, automatic);
            }
        }
    }

    private final ReuseportGroup group;
    private final Policy candidate;
    private final Settings settings;
    private final MetricsSampler sampler;
    private final AtomicLong setupFailures = new AtomicLong();
    private final Thread ticker;
    private volatile boolean closed;
    private State state = State.OBSERVE;
    private int streak;
    private long enteredNanos = System.nanoTime();
    private long lastDrops = -1;
    private final Deque<double[]> baseline = new ArrayDeque<>();
    private long lastFallbackNanos = -1;
    private GroupMetrics last;

    private Controller(ReuseportGroup group, Policy candidate, Settings settings, boolean tick) {
        if (candidate instanceof Policy.KernelHash) {
            throw new IllegalArgumentException("candidate policy kernel-hash; accepted: a policy to shadow and enforce");
        }
        this.group = group;
        this.candidate = candidate;
        this.settings = settings;
        this.sampler = group.newSampler();
        group.controller(this);
        group.audit().record("controller", "state", state.name(), "candidate", candidate.spec(), "window_ms",
                settings.window().toMillis(), "k", settings.windows(), "automatic", settings.automatic());
        if (tick) {
            ticker = new Thread(this::run, "reuseport-controller");
            ticker.setDaemon(true);
            ticker.start();
        } else {
            ticker = null;
        }
    }

    /**
     * Starts a controller in OBSERVE that ends one window every {@code settings.window()} on a daemon
     * thread named {@code reuseport-controller}, and becomes the group's {@link ReuseportGroup#controller()}.
     * An error during a window is recorded in the audit trail and the next window runs.
     *
     * @param group     the group to run
     * @param candidate the policy to shadow and enforce
     * @param settings  thresholds and hysteresis
     * @return the running controller; {@link #close()} stops it
     * @throws IllegalArgumentException when the candidate is the kernel hash
     */
    public static Controller start(ReuseportGroup group, Policy candidate, Settings settings) {
        return new Controller(group, candidate, settings, true);
    }

    /**
     * A controller in OBSERVE whose windows the caller ends with {@link #tick()} (tests, benchmarks); it
     * becomes the group's {@link ReuseportGroup#controller()} as well.
     *
     * @param group     the group to run
     * @param candidate the policy to shadow and enforce
     * @param settings  thresholds and hysteresis ({@code window} is not used for timing)
     * @return the controller
     * @throws IllegalArgumentException when the candidate is the kernel hash
     */
    public static Controller manual(ReuseportGroup group, Policy candidate, Settings settings) {
        return new Controller(group, candidate, settings, false);
    }

    private void run() {
        while (!closed && !group.isClosed()) {
            try {
                Thread.sleep(settings.window().toMillis());
                tick();
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                group.audit().record("controller-error", "state", state().name(), "error", e.toString());
            }
        }
    }

    /**
     * The state now.
     *
     * @return the current state
     */
    public synchronized State state() {
        return state;
    }

    /**
     * The group this controller runs.
     *
     * @return the group
     */
    public ReuseportGroup group() {
        return group;
    }

    /**
     * The policy this controller shadows and enforces.
     *
     * @return the candidate policy
     */
    public Policy candidate() {
        return candidate;
    }

    /**
     * The application reports connection setups that failed (timeouts, resets) in the current window; in
     * ENFORCE, more than the baseline plus {@code failuresAbove} for K windows triggers FALLBACK.
     *
     * @param n how many failed since the last report
     */
    public void recordSetupFailures(long n) {
        setupFailures.addAndGet(n);
    }

    /**
     * The metrics of the last window ended.
     *
     * @return the last window's metrics, or null before the first window ended
     */
    public synchronized GroupMetrics lastWindow() {
        return last;
    }

    /**
     * How fast the last fallback took effect.
     *
     * @return nanoseconds from the last FALLBACK trigger to the kernel default being in force, or -1 when
     *         there was no fallback yet
     */
    public synchronized long lastFallbackNanos() {
        return lastFallbackNanos;
    }

    /**
     * The baseline ENFORCE is judged against: the mean of the last (up to 10) windows spent in OBSERVE.
     *
     * @return {@code [drops per window, worst p99 in µs, setup failures per window]}; zeros before any
     *         OBSERVE window
     */
    public synchronized double[] baseline() {
        double[] sum = new double[3];
        for (double[] b : baseline) {
            for (int i = 0; i < 3; i++) {
                sum[i] += b[i];
            }
        }
        int n = Math.max(1, baseline.size());
        return new double[] {sum[0] / n, sum[1] / n, sum[2] / n};
    }

    /**
     * Ends one window: samples the group's metrics and applies the trigger of the current state (a
     * trigger must hold for K consecutive windows); a transition it causes is audited like any other.
     *
     * @return that window's metrics
     * @throws IOException when sampling fails or a transition cannot apply its policy
     * @throws IllegalStateException when an automatic move is refused (e.g. shadowing is not possible
     *                               without BPF); the state is unchanged then
     */
    public synchronized GroupMetrics tick() throws IOException {
        GroupMetrics m = sampler.sample();
        last = m;
        long drops = m.drops();
        long dropsInWindow = lastDrops < 0 ? 0 : drops - lastDrops;
        lastDrops = drops;
        long failures = setupFailures.getAndSet(0);
        long worstP99 = m.workers().stream().mapToLong(WorkerMetrics::p99Micros).max().orElse(0);
        switch (state) {
            case OBSERVE -> {
                baseline.addLast(new double[] {dropsInWindow, worstP99, failures});
                if (baseline.size() > 10) {
                    baseline.removeFirst();
                }
                streak = m.imbalance() > settings.shadowAbove() ? streak + 1 : 0;
                if (settings.automatic() && streak >= settings.windows()) {
                    move(State.SHADOW, String.format(java.util.Locale.ROOT,
                            "imbalance %.2f above %.2f for %d windows", m.imbalance(), settings.shadowAbove(), streak));
                }
            }
            case SHADOW -> {
                double predicted = m.shadowImbalance();
                boolean better = predicted > 0 && predicted <= 1.5 && predicted <= m.imbalance() * settings.enforceGain();
                streak = better ? streak + 1 : 0;
                if (settings.automatic() && streak >= settings.windows()) {
                    move(State.ENFORCE, String.format(java.util.Locale.ROOT,
                            "shadow predicts %.2f against %.2f observed for %d windows", predicted, m.imbalance(), streak));
                }
            }
            case ENFORCE -> {
                double[] base = baseline();
                String why = null;
                if (dropsInWindow > base[0] + settings.dropsAbove()) {
                    why = "drops " + dropsInWindow + " per window against a baseline of "
                            + Math.round(base[0]) + " (+" + settings.dropsAbove() + " allowed)";
                } else if (base[1] > 0 && worstP99 > base[1] * settings.p99Factor()) {
                    why = "p99 " + worstP99 + " us against a baseline of " + Math.round(base[1]) + " us (x"
                            + settings.p99Factor() + " allowed)";
                } else if (failures > base[2] + settings.failuresAbove()) {
                    why = failures + " setup failures per window against a baseline of " + Math.round(base[2]);
                }
                streak = why != null ? streak + 1 : 0;
                if (why != null && streak >= settings.windows()) {
                    move(State.FALLBACK, "regression for " + streak + " windows: " + why);
                }
            }
            case FALLBACK -> {
                if (!settings.coolDown().isZero() && System.nanoTime() - enteredNanos >= settings.coolDown().toNanos()) {
                    move(State.OBSERVE, "cool-down of " + settings.coolDown().toSeconds() + " s passed");
                }
            }
            default -> throw new IllegalStateException(state.name());
        }
        return m;
    }

    /**
     * Moves to {@code target} at the operator's request. Only the arrows of the state machine are
     * allowed (OBSERVE to SHADOW; SHADOW to ENFORCE or OBSERVE; ENFORCE to OBSERVE; FALLBACK to OBSERVE),
     * and FALLBACK from every state. The transition is audited with the reason, prefixed
     * {@code operator:}, and emitted as a JFR event.
     *
     * @param target the state to move to
     * @param reason why, for the audit trail; null or blank records {@code no reason given}
     * @throws IllegalStateException naming the transition and what is accepted from the current state, or
     *                               why the candidate cannot be shadowed or enforced (no BPF steering)
     * @throws IOException when switching the group's policy fails
     */
    public synchronized void to(State target, String reason) throws IOException {
        move(target, "operator: " + (reason == null || reason.isBlank() ? "no reason given" : reason));
    }

    private void move(State target, String reason) throws IOException {
        State from = state;
        if (!ALLOWED.get(from).contains(target)) {
            throw new IllegalStateException("transition " + from + " -> " + target + " is not allowed; accepted from "
                    + from + ": " + ALLOWED.get(from));
        }
        long t0 = System.nanoTime();
        long switchNanos = 0;
        switch (target) {
            case SHADOW -> {
                if (!group.shadow(candidate)) {
                    throw new IllegalStateException("cannot shadow " + candidate.spec() + ": "
                            + group.capabilities().steeringReason());
                }
            }
            case ENFORCE -> {
                Capabilities c = group.applyPolicy(candidate).capabilities();
                if (!c.steering().startsWith("bpf")) {
                    throw new IllegalStateException("cannot enforce " + candidate.spec() + ": " + c.steeringReason());
                }
            }
            case FALLBACK -> {
                long called = System.nanoTime();
                switchNanos = called - t0 + group.fallbackToKernelHash(reason).toNanos();
                lastFallbackNanos = switchNanos;
            }
            case OBSERVE -> {
                if (from != State.FALLBACK) {
                    group.fallbackToKernelHash("back to observe: " + reason);
                }
            }
            default -> throw new IllegalStateException(target.name());
        }
        state = target;
        streak = 0;
        enteredNanos = System.nanoTime();
        group.audit().record("transition", "from", from.name(), "to", target.name(), "reason", reason, "policy",
                group.policy().spec(), "candidate", candidate.spec(), "table_version", group.tableVersion(), "switch_us",
                switchNanos / 1000);
        ReuseportEvents.transition(group.toString(), from.name(), target.name(), reason, switchNanos);
    }

    /**
     * Stops the controller: its thread ends and the group has no controller any more. The policy in force
     * stays as it is.
     */
    @Override
    public void close() {
        closed = true;
        if (ticker != null) {
            ticker.interrupt();
        }
        group.controller(null);
    }
}
