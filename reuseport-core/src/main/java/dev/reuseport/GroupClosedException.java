package dev.reuseport;

import java.nio.channels.ClosedChannelException;

/** The group, or the worker's socket, was closed; open a new group. */
public final class GroupClosedException extends ClosedChannelException {
    private static final long serialVersionUID = 1L;
    private final String message;

    /** Names what was closed. */
    public GroupClosedException(String what) {
        this.message = what + " is closed; open a new group";
    }

    @Override
    public String getMessage() {
        return message;
    }
}
