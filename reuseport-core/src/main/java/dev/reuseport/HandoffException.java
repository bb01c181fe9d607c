package dev.reuseport;

/** A cross-process hand-off did not complete; nothing was taken over and nothing is left open. */
public final class HandoffException extends ReuseportException {
    private static final long serialVersionUID = 1L;

    /** With what went wrong. */
    public HandoffException(String message) {
        super(message, null);
    }

    /** With what went wrong and why. */
    public HandoffException(String message, Throwable cause) {
        super(message, cause);
    }
}
