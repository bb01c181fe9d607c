package dev.reuseport;

/**
 * The state of the controller running a group, as {@link ReuseportGroup#controllerState()} reports it:
 * {@link #NONE} when no controller runs the group, otherwise the controller's own state (the values of
 * {@link Controller.State}, under the same names).
 */
public enum ControlState {
    /** No controller runs the group. */
    NONE,
    /** Kernel hash; baseline recorded. */
    OBSERVE,
    /** Candidate policy counted, not enforced. */
    SHADOW,
    /** Candidate policy in force. */
    ENFORCE,
    /** Back on the kernel default, held. */
    FALLBACK;

    /** The state as reports print it: its name, or {@code -} for {@link #NONE}. */
    String shown() {
        return this == NONE ? "-" : name();
    }
}
