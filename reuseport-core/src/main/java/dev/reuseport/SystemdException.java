package dev.reuseport;

/**
 * What systemd passed (or the notify socket it named) cannot be used: a malformed {@code LISTEN_FDS} or
 * {@code LISTEN_PID}, descriptors passed to another process, fewer sockets than workers, a socket of the
 * wrong family, type, address or port, or a {@code NOTIFY_SOCKET} that is not a Unix socket address. The
 * message names the value and what is accepted; when it is thrown by {@link Systemd#open}, every passed
 * descriptor has been closed (nothing adopted half-way, nothing leaked).
 */
public class SystemdException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /**
     * A refusal of what systemd passed.
     *
     * @param message the value at fault and what is accepted
     * @param cause   the failure behind it (a {@code NativeException} naming the call and errno), or null
     */
    public SystemdException(String message, Throwable cause) {
        super(message, cause);
    }
}
