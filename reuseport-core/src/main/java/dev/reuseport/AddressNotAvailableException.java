package dev.reuseport;

/**
 * The address is not assigned to any interface of this host (bind: EADDRNOTAVAIL), or its family is
 * not configured here (an IPv6 address on a host without IPv6: EAFNOSUPPORT / EADDRNOTAVAIL).
 */
public final class AddressNotAvailableException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /** With a message and the native failure behind it. */
    public AddressNotAvailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
