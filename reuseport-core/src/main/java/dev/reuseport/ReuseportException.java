package dev.reuseport;

import java.io.IOException;

/**
 * A group could not be opened or operated; the message names the value at fault and what is accepted.
 * The subclasses name the common causes: {@link AddressInUseException}, {@link AddressNotAvailableException}
 * and {@link HandoffException}.
 */
public class ReuseportException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * A failure of a group operation.
     *
     * @param message what failed, the value at fault and what is accepted
     * @param cause   the failure behind it (often a {@code NativeException} naming the call and errno), or
     *                null
     */
    public ReuseportException(String message, Throwable cause) {
        super(message, cause);
    }
}
