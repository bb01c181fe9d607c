package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.internal.steer.TablePlanner;

/**
 * The texts a fallback builds (its audit reason, the capability report's reason, the hand-off hold's
 * reason), in methods of their own so that {@link #prepare} can build each once as a group opens: the
 * first fallback of a JVM (the operator's emergency lever) then links no call site and loads no class.
 */
final class FallbackTexts {
    private FallbackTexts() {
    }

    /** The audit trail's reason for a fallback. */
    static String why(String reason) {
        return "fallback: " + reason;
    }

    /** The capability report's steering reason after a fallback. */
    static String steeringReason(String reason, boolean holding) {
        return why(reason) + (holding ? " (a hand-off is in progress: the kernel hash over this group's own "
                + "sockets, by the program)" : "");
    }

    /** The audit trail's reason for a table that holds a hand-off's connections on this group's sockets. */
    static String held(String why) {
        return why + " (hand-off in progress: over this group's own sockets)";
    }

    /**
     * Runs what a fallback runs besides its map updates, without effect: each text built with stand-in
     * values, a capability report and a hold table built and dropped. Changes nothing.
     */
    static void prepare(Capabilities caps, int[] slots) {
        held(why("prepare"));
        caps.withSteering("kernel hash", steeringReason("prepare", true) + steeringReason("prepare", false));
        new TablePlanner.Plan(SteerProgram.Mode.HASH, slots).length();
        Policy.kernelHash();
    }
}
