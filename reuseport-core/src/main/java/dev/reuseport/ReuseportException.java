package dev.reuseport;

import java.io.IOException;

/** A group could not be opened or operated; the message names the value at fault and what is accepted. */
public class ReuseportException extends IOException {
    private static final long serialVersionUID = 1L;

    /** With a message and the native failure behind it (may be null). */
    public ReuseportException(String message, Throwable cause) {
        super(message, cause);
    }
}
