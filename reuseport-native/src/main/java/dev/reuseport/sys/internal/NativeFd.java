package dev.reuseport.sys.internal;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A file descriptor with a state word: bit 0 says closed, bit 1 says the closer holds the number (see
 * {@link #closeHeld()}), the bits above count the calls using the number right now. {@link #close()}
 * marks it closed once (compare-and-set); the number itself is released by whichever of close and the
 * last in-flight call comes last, so a stale object never touches a number the kernel has already handed
 * to someone else.
 */
public final class NativeFd implements AutoCloseable {
    private static final int CLOSED = 1;
    private static final int HELD = 2;
    private static final int USER = 4;

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
        } else if (s == (CLOSED | HELD)) {
            runPending(); // the closer gave up waiting and left its last action to the last call
        }
    }

    /** The last action a closer left behind when its calls outlived its deadline; null when none. */
    private final java.util.concurrent.atomic.AtomicReference<NumberAction> pending =
            new java.util.concurrent.atomic.AtomicReference<>();

    /**
     * Runs the pending last action and closes the number, if a closer left one (exactly once over all
     * threads); a failure of either is kept for {@link #closeFailure()}. Whether it ran here.
     */
    private boolean runPending() {
        NumberAction a = pending.getAndSet(null);
        if (a == null) {
            return false;
        }
        try {
            a.run(fd);
        } catch (NativeException e) {
            closeFailure = e;
        } finally {
            closeNumber();
            state.set(CLOSED);
        }
        return true;
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

    /**
     * Starts a close in which the closer keeps the number: no new call can start, calls in flight go on,
     * and none of them closes the number when it ends. Finish with {@link #finishHeld}. This is how a
     * leaving socket is drained after the last reader has let go and closed right after the drain, in
     * one thread, instead of by whichever reader happens to end last (which leaves a window in which the
     * kernel queues data on a socket nobody will read).
     *
     * @return false when the descriptor was already closed (then there is nothing to finish)
     */
    public boolean closeHeld() {
        for (;;) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
            if (state.compareAndSet(s, s | CLOSED | HELD)) {
                return true;
            }
        }
    }

    /**
     * Finishes a {@link #closeHeld()}: waits until {@code deadlineNanos} ({@link System#nanoTime()}) for
     * the calls in flight to end, then runs {@code lastAction} on the number and closes it. When calls are
     * still in flight at the deadline, the last of them runs {@code lastAction} and closes the number when
     * it ends (a failure there is kept for {@link #closeFailure()}), so the action always runs right
     * before the close, whichever thread that is.
     *
     * @return whether {@code lastAction} ran here (else the last call runs it)
     * @throws NativeException the failure of close(2) when this call closed the number, or of
     *     {@code lastAction} (the number is closed then too)
     */
    public boolean finishHeld(long deadlineNanos, NumberAction lastAction) throws NativeException {
        if ((state.get() & HELD) == 0) {
            throw new IllegalStateException(this + " is not held by a closer; accepted: finishHeld once after closeHeld");
        }
        while ((state.get() & ~(CLOSED | HELD)) != 0 && System.nanoTime() - deadlineNanos < 0) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        // whoever finds no call left runs it once: this thread now, or else the last call as it ends
        pending.set(lastAction);
        if (state.get() != (CLOSED | HELD) || !runPending()) {
            return false;
        }
        NativeException f = closeFailure;
        if (f != null) {
            throw f;
        }
        return true;
    }

    /** What {@link #finishHeld} runs on the number before closing it. */
    @FunctionalInterface
    public interface NumberAction {
        /** Acts on descriptor {@code fd}, which no other call is using. */
        void run(int fd) throws NativeException;
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
