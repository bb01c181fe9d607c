package dev.reuseport.internal.member;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.Sys;
import java.nio.channels.ClosedChannelException;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The duplicates lent to an external I/O engine (a socket listener), one per member socket: made when a
 * socket joins the engine, taken back when it leaves. Not thread-safe: the group's membership changes
 * are serialised.
 */
public final class Loans {
    private final Map<NativeFd, Integer> lent = new IdentityHashMap<>();

    /**
     * Lends a duplicate of {@code f}.
     *
     * @param f the member socket
     * @return the duplicate's descriptor, which the borrower owns
     * @throws ClosedChannelException when {@code f} is closed
     * @throws NativeException        when dup fails
     */
    public int lend(NativeFd f) throws ClosedChannelException, NativeException {
        int n = f.acquire();
        int dup;
        try {
            dup = Sys.dup(n);
        } finally {
            f.release();
        }
        lent.put(f, dup);
        return dup;
    }

    /**
     * Takes the duplicate of {@code f} back.
     *
     * @param f the member socket
     * @return the duplicate lent for it, or null when none was
     */
    public Integer takeBack(NativeFd f) {
        return lent.remove(f);
    }

    /** Forgets every loan (the borrower let go of all of them). */
    public void clear() {
        lent.clear();
    }
}
