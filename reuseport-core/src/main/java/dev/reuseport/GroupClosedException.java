package dev.reuseport;

import java.nio.channels.ClosedChannelException;

/**
 * The group, or the worker's socket, was closed; open a new group. A {@link ClosedChannelException}, so
 * code written for NIO channels handles it as the end of a channel.
 */
public class GroupClosedException extends ClosedChannelException {
    private static final long serialVersionUID = 1L;
    /** The whole message: what was closed and what to do. */
    private final String message;

    /**
     * Names what was closed.
     *
     * @param what the closed thing, e.g. {@code worker 3 of group TCP 127.0.0.1:8080}
     */
    public GroupClosedException(String what) {
        this.message = what + " is closed; open a new group";
    }

    /** For {@link WorkerRemovedException}: {@code message} is the whole message. */
    GroupClosedException(String message, boolean whole) {
        this.message = message;
    }

    @Override
    public String getMessage() {
        return message;
    }
}
