package dev.reuseport;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** JFR events for state transitions, policy changes and restarts (visible in any JFR recording). */
final class ReuseportEvents {
    private ReuseportEvents() {
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
        @Label("Generation")
        int generation;
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

    static void policy(String group, String policy, int generation) {
        PolicyChange e = new PolicyChange();
        if (e.isEnabled()) {
            e.group = group;
            e.policy = policy;
            e.generation = generation;
            e.commit();
        }
    }

    static void restart(String group, int sockets, long restarts) {
        Restart e = new Restart();
        if (e.isEnabled()) {
            e.group = group;
            e.sockets = sockets;
            e.restarts = restarts;
            e.commit();
        }
    }
}
