package dev.reuseport;

/**
 * The address and port are held by a socket that cannot share them: one without SO_REUSEPORT, or one
 * owned by another user (bind: EADDRINUSE).
 */
public final class AddressInUseException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /** With a message and the native failure behind it. */
    public AddressInUseException(String message, Throwable cause) {
        super(message, cause);
    }
}
