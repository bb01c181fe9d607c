package dev.reuseport;

import java.time.Duration;

/**
 * What {@link ReuseportGroup#applyPolicy(Policy)} did: the policy before and after, the table version the
 * change left in force, the steering it reports and how long it took.
 *
 * @param previous     the policy in force just before the change (read under the steering lock, so a
 *                     fallback that ran in between is seen)
 * @param requested    the policy asked for
 * @param inForce      the policy in force after the change: {@code requested}, or the kernel hash when the
 *                     host cannot run the steering program ({@code capabilities} says why)
 * @param tableVersion the table version after the change ({@link ReuseportGroup#tableVersion()} then); a
 *                     table or a switch to pass mode raised it, a kernel hash without a program left it
 * @param capabilities the capability report after the change; its {@link Capabilities#steering()} and
 *                     {@link Capabilities#steeringReason()} say how the group steers now and why
 * @param took         from the call until the new table (or the kernel hash) was in force, including the wait
 *                     for a change already in progress
 */
public record PolicyChange(Policy previous, Policy requested, Policy inForce, int tableVersion,
                           Capabilities capabilities, Duration took) {
    /**
     * Whether the policy asked for is the one in force now.
     *
     * @return false when the group stayed on the kernel hash because the host cannot run the program
     */
    public boolean applied() {
        return inForce.spec().equals(requested.spec());
    }
}
