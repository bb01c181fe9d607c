package dev.reuseport;

/** A cross-process hand-off did not complete; nothing was taken over and nothing is left open. */
public final class HandoffException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /**
     * A hand-off that failed without an underlying exception, e.g. refused by the old process.
     *
     * @param message what went wrong, naming the control socket
     */
    public HandoffException(String message) {
        super(message, null);
    }

    /**
     * A hand-off that failed because of another exception.
     *
     * @param message what went wrong, naming the control socket
     * @param cause   the failure behind it, e.g. the I/O error on the control socket
     */
    public HandoffException(String message, Throwable cause) {
        super(message, cause);
    }
}
