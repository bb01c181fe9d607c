package dev.reuseport.fleet;

/**
 * Bad input to the fleet (an unknown policy, a plan with no stages, a host group or host no agent ever
 * joined, a freeze window that cannot be parsed, a malformed name): the message names the value and what
 * is accepted. Nothing was written to etcd when it is thrown.
 */
public class FleetInputException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * An error naming the value at fault.
     *
     * @param message what was given and what is accepted
     */
    public FleetInputException(String message) {
        super(message);
    }
}
