package dev.reuseport.handoff;

import java.io.IOException;

/**
 * A hand-off that did not happen: refused, broken off, or a descriptor that is not what the layout says.
 * The group turns it into the public {@code HandoffException} with the same message.
 */
public final class HandoffFailure extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * A failure.
     *
     * @param message what went wrong, naming the control socket
     */
    public HandoffFailure(String message) {
        super(message);
    }

    /**
     * A failure with its cause.
     *
     * @param message what went wrong, naming the control socket
     * @param cause   what was thrown
     */
    public HandoffFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
