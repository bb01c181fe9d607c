package dev.reuseport;

/**
 * The address and port are held by a socket that cannot share them: one without SO_REUSEPORT, or one
 * owned by another user (bind: EADDRINUSE).
 */
public final class AddressInUseException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /**
     * A bind that failed with EADDRINUSE.
     *
     * @param message which address and port, and what to do about it
     * @param cause   the native failure behind it (a {@code NativeException} for {@code bind}), or null
     */
    public AddressInUseException(String message, Throwable cause) {
        super(message, cause);
    }
}
