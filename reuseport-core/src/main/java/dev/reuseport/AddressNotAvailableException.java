package dev.reuseport;

/**
 * The address is not assigned to any interface of this host (bind: EADDRNOTAVAIL), or its family is
 * not configured here (an IPv6 address on a host without IPv6: EAFNOSUPPORT / EADDRNOTAVAIL).
 */
public final class AddressNotAvailableException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /**
     * A bind that failed because the address is not usable on this host.
     *
     * @param message which address, and why it is not available
     * @param cause   the native failure behind it (a {@code NativeException} for {@code socket} or
     *                {@code bind}), or null
     */
    public AddressNotAvailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
