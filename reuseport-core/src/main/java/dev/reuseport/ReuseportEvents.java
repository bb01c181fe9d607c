package dev.reuseport;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/**
 * JFR events (visible in any JFR recording; {@code dev/reuseport/reuseport.jfc} enables them all): state
 * transitions, policy changes, restarts, every membership change, every hand-off step, every fallback,
 * every watchdog removal, every audit entry, and a periodic per-worker sample of each open group.
 */
final class ReuseportEvents {
    /** Open groups, for the periodic worker sample; weak, so that a group never stays alive for JFR. */
    private static final Set<ReuseportGroup> GROUPS = Collections.synchronizedSet(
            Collections.newSetFromMap(new WeakHashMap<>()));

    private static final java.util.concurrent.atomic.AtomicBoolean HOOKED = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Whether the Flight Recorder runs in this JVM. Until it does, no event object is made: the first one
     * loads and sets up JFR's machinery, which costs up to seconds on a busy host, and must never land in a
     * restart or a hand-off of a JVM that records nothing.
     */
    private static boolean on() {
        try {
            return FlightRecorder.isInitialized();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private ReuseportEvents() {
    }

    @Name("dev.reuseport.MembershipChange")
    @Label("Reuseport Membership Change")
    @Category("Reuseport")
    @Description("A worker joined or left the group, or the group's sockets were swapped (restart)")
    @StackTrace(false)
    static final class MembershipChange extends Event {
        @Label("Change")
        String change;
        @Label("Slot")
        int slot;
        @Label("Workers")
        int workers;
        @Label("Details")
        String details;
    }

    @Name("dev.reuseport.HandoffStep")
    @Label("Reuseport Hand-off Step")
    @Category("Reuseport")
    @Description("One step of a cross-process hand-off, on the old or the new side")
    @StackTrace(false)
    static final class HandoffStep extends Event {
        @Label("Side")
        String side;
        @Label("Step")
        String step;
        @Label("Details")
        String details;
    }

    @Name("dev.reuseport.Fallback")
    @Label("Reuseport Fallback")
    @Category("Reuseport")
    @Description("The group went back to the kernel default (mode PASS), with or without a controller")
    @StackTrace(false)
    static final class Fallback extends Event {
        @Label("Group")
        String group;
        @Label("Reason")
        String reason;
        @Label("Program Attached")
        boolean program;
        @Label("Switch Nanoseconds")
        long switchNanos;
    }

    @Name("dev.reuseport.WatchdogRemoval")
    @Label("Reuseport Watchdog Removal")
    @Category("Reuseport")
    @Description("The watchdog removed a worker that stayed away from accept or receive while work waited")
    @StackTrace(false)
    static final class WatchdogRemoval extends Event {
        @Label("Slot")
        int slot;
        @Label("Idle Milliseconds")
        long idleMillis;
        @Label("Stall Milliseconds")
        long stallMillis;
    }

    @Name("dev.reuseport.Audit")
    @Label("Reuseport Audit Entry")
    @Category("Reuseport")
    @Description("An entry of a group's audit trail, as JSON")
    @StackTrace(false)
    static final class Audit extends Event {
        @Label("Event")
        String event;
        @Label("Entry")
        String entry;
    }

    @Name("dev.reuseport.WorkerSample")
    @Label("Reuseport Worker Sample")
    @Category("Reuseport")
    @Description("Periodic: one worker's cumulative counters and queue")
    @Period("1 s")
    @StackTrace(false)
    static final class WorkerSample extends Event {
        @Label("Group")
        String group;
        @Label("Protocol")
        String protocol;
        @Label("Port")
        int port;
        @Label("Slot")
        int slot;
        @Label("Accepted")
        long accepted;
        @Label("Received")
        long received;
        @Label("Drops")
        long drops;
        @Label("Queue Depth")
        int queueDepth;
        @Label("Queue Limit")
        int queueLimit;
    }

    /**
     * Follows a new group for the periodic worker sample. The first call registers, on a daemon thread so
     * that no group waits for it, a listener that adds the periodic event once the Flight Recorder is
     * initialized (at once when it already is).
     */
    static void track(ReuseportGroup g) {
        GROUPS.add(g);
        if (HOOKED.compareAndSet(false, true)) {
            Thread t = new Thread(() -> {
                try {
                    FlightRecorder.addListener(new jdk.jfr.FlightRecorderListener() {
                        @Override
                        public void recorderInitialized(FlightRecorder recorder) {
                            FlightRecorder.addPeriodicEvent(WorkerSample.class, ReuseportEvents::sampleWorkers);
                        }
                    });
                } catch (RuntimeException | LinkageError e) {
                    // a JVM without a usable Flight Recorder: groups work, there is just no periodic sample
                    System.getLogger("dev.reuseport").log(System.Logger.Level.DEBUG, "no periodic JFR sample: " + e);
                }
            }, "reuseport-jfr-hook");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void sampleWorkers() {
        ReuseportGroup[] gs;
        synchronized (GROUPS) {
            gs = GROUPS.toArray(new ReuseportGroup[0]);
        }
        for (ReuseportGroup g : gs) {
            if (g.isClosed()) {
                GROUPS.remove(g);
                continue;
            }
            try {
                for (WorkerStats s : g.stats()) {
                    WorkerSample e = new WorkerSample();
                    e.group = g.describe();
                    e.protocol = g.protocol().name();
                    e.port = g.localAddress().getPort();
                    e.slot = s.slot();
                    e.accepted = s.accepted();
                    e.received = s.received();
                    e.drops = s.drops();
                    e.queueDepth = s.queueDepth();
                    e.queueLimit = s.queueLimit();
                    e.commit();
                }
            } catch (java.io.IOException | RuntimeException e) {
                // closed meanwhile: nothing to sample
            }
        }
    }

    /** The typed events of an audit entry, and the entry itself. */
    static void audited(String event, Map<String, Object> fields) {
        if (!on()) {
            return;
        }
        Audit a = new Audit();
        if (a.isEnabled()) {
            a.event = event;
            a.entry = AuditLog.json(fields);
            a.commit();
        }
        switch (event) {
            case "add-worker", "remove-worker", "restart", "resize" -> {
                MembershipChange e = new MembershipChange();
                if (e.isEnabled()) {
                    e.change = event;
                    e.slot = fields.get("slot") instanceof Number n ? n.intValue() : -1;
                    e.workers = fields.get("workers") instanceof Number n ? n.intValue() : -1;
                    e.details = AuditLog.json(fields);
                    e.commit();
                }
            }
            case "handoff", "handoff-aborted" -> handoffStep("old", event, AuditLog.json(fields));
            case "takeover", "takeover-fallback", "standby-close-failed" ->
                    handoffStep("new", event, AuditLog.json(fields));
            case "worker-stalled" -> {
                WatchdogRemoval e = new WatchdogRemoval();
                if (e.isEnabled()) {
                    e.slot = fields.get("slot") instanceof Number n ? n.intValue() : -1;
                    e.idleMillis = fields.get("idle_ms") instanceof Number n ? n.longValue() : -1;
                    e.stallMillis = fields.get("stall_ms") instanceof Number n ? n.longValue() : -1;
                    e.commit();
                }
            }
            default -> {
                // the Audit event above carries it
            }
        }
    }

    /** A hand-off that emits each of its steps ({@code old:header}, ...) as a {@link HandoffStep} event. */
    static final dev.reuseport.handoff.Handoff HANDOFF = new dev.reuseport.handoff.Handoff(name -> {
        int c = name.indexOf(':');
        handoffStep(name.substring(0, c), name.substring(c + 1), "");
    });

    /** One step of a hand-off: {@code side} old or new. */
    static void handoffStep(String side, String step, String details) {
        if (!on()) {
            return;
        }
        HandoffStep e = new HandoffStep();
        if (e.isEnabled()) {
            e.side = side;
            e.step = step;
            e.details = details;
            e.commit();
        }
    }

    static void fallback(String group, String reason, boolean program, long switchNanos) {
        if (!on()) {
            return;
        }
        Fallback e = new Fallback();
        if (e.isEnabled()) {
            e.group = group;
            e.reason = reason;
            e.program = program;
            e.switchNanos = switchNanos;
            e.commit();
        }
    }

    @Name("dev.reuseport.StateTransition")
    @Label("Reuseport State Transition")
    @Category("Reuseport")
    @Description("The control state machine moved between OBSERVE, SHADOW, ENFORCE and FALLBACK")
    static final class StateTransition extends Event {
        @Label("Group")
        String group;
        @Label("From")
        String from;
        @Label("To")
        String to;
        @Label("Reason")
        String reason;
        @Label("Switch Nanoseconds")
        long switchNanos;
    }

    @Name("dev.reuseport.PolicyChange")
    @Label("Reuseport Policy Change")
    @Category("Reuseport")
    static final class PolicyChange extends Event {
        @Label("Group")
        String group;
        @Label("Policy")
        String policy;
        @Label("Table Version")
        int tableVersion;
    }

    @Name("dev.reuseport.Restart")
    @Label("Reuseport Restart")
    @Category("Reuseport")
    static final class Restart extends Event {
        @Label("Group")
        String group;
        @Label("Sockets Swapped")
        int sockets;
        @Label("Restarts So Far")
        long restarts;
    }

    static void transition(String group, String from, String to, String reason, long switchNanos) {
        if (!on()) {
            return;
        }
        StateTransition e = new StateTransition();
        if (e.isEnabled()) {
            e.group = group;
            e.from = from;
            e.to = to;
            e.reason = reason;
            e.switchNanos = switchNanos;
            e.commit();
        }
    }

    static void policy(String group, String policy, int tableVersion) {
        if (!on()) {
            return;
        }
        PolicyChange e = new PolicyChange();
        if (e.isEnabled()) {
            e.group = group;
            e.policy = policy;
            e.tableVersion = tableVersion;
            e.commit();
        }
    }

    static void restart(String group, int sockets, long restarts) {
        if (!on()) {
            return;
        }
        Restart e = new Restart();
        if (e.isEnabled()) {
            e.group = group;
            e.sockets = sockets;
            e.restarts = restarts;
            e.commit();
        }
    }
}
