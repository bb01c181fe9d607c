package dev.reuseport.fleet;

/**
 * etcd could not be reached or refused an operation (no quorum, a timeout, a lost lease), or a rollout
 * operation was refused by the state kept in etcd (another coordinator holds it, no rollout is running).
 */
public class FleetException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An error with a message.
     *
     * @param message what failed
     */
    public FleetException(String message) {
        super(message);
    }

    /**
     * An error with a message and its cause.
     *
     * @param message what failed
     * @param cause   the client's exception
     */
    public FleetException(String message, Throwable cause) {
        super(message, cause);
    }
}
