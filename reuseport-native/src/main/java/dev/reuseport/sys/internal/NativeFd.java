package dev.reuseport.sys.internal;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A file descriptor with a state word: bit 0 says closed, the bits above count the calls using the
 * number right now. {@link #close()} marks it closed once (compare-and-set); the number itself is
 * released by whichever of close and the last in-flight call comes last, so a stale object never touches
 * a number the kernel has already handed to someone else.
 */
public final class NativeFd implements AutoCloseable {
    private static final int CLOSED = 1;
    private static final int USER = 2;

    private final int fd;
    private final boolean shutdownOnClose;
    private final AtomicInteger state = new AtomicInteger();
    private volatile NativeException closeFailure;

    /**
     * Owns {@code fd}. With {@code shutdownOnClose}, closing while a call is in flight also shuts the
     * socket down to wake that call; leave it off for sockets another process may share (a listener
     * handed over), whose shutdown would affect every holder.
     */
    public NativeFd(int fd, boolean shutdownOnClose) {
        if (fd < 0) {
            throw new IllegalArgumentException("fd " + fd + " is not a descriptor; accepted: 0 or more");
        }
        this.fd = fd;
        this.shutdownOnClose = shutdownOnClose;
    }

    /** Marks a call in flight and returns the number; throws when already closed. Pair with {@link #release()}. */
    public int acquire() throws ClosedChannelException {
        for (;;) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                throw new ClosedChannelException();
            }
            if (state.compareAndSet(s, s + USER)) {
                return fd;
            }
        }
    }

    /** Ends a call started by {@link #acquire()}. */
    public void release() {
        int s = state.addAndGet(-USER);
        if (s == CLOSED) {
            closeNumber();
        }
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /** The number, for logging and for handing to adapters that take ownership elsewhere; may be stale. */
    public int number() {
        return fd;
    }

    /**
     * Closes once; later calls do nothing. A failure of close(2) itself is thrown by the call that
     * released the number, or kept for {@link #closeFailure()} when that was an in-flight call.
     */
    @Override
    public void close() throws NativeException {
        for (;;) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return;
            }
            if (state.compareAndSet(s, s | CLOSED)) {
                if (s == 0) {
                    closeNumber();
                    NativeException f = closeFailure;
                    if (f != null) {
                        throw f;
                    }
                } else if (shutdownOnClose) {
                    int r = Native.backend().shutdown(fd, Sys.SHUT_RDWR);
                    if (r < 0 && r != -Errno.ENOTCONN) {
                        closeFailure = new NativeException("shutdown", -r, "waking calls in flight on fd " + fd);
                    }
                }
                return;
            }
        }
    }

    /** Whether the number itself has been closed: {@link #close()} was called and no call uses it any more. */
    public boolean isReleased() {
        return state.get() == CLOSED;
    }

    /** The failure of the deferred close(2), if any. */
    public NativeException closeFailure() {
        return closeFailure;
    }

    private void closeNumber() {
        int r = Native.backend().close(fd);
        if (r < 0 && r != -Errno.EINTR) {
            closeFailure = new NativeException("close", -r, "fd " + fd);
        }
    }

    @Override
    public String toString() {
        return "fd " + fd + (isClosed() ? " (closed)" : "");
    }
}
