package dev.reuseport.handoff;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Sys;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The old side of one hand-off exchange ({@link Handoff.Session}): the snapshot sent (duplicates of the
 * group's descriptors, which this session owns), the proof compared with the group's sockets of the moment,
 * and the end (let go, aborted or closed). It knows the group only through {@link Group}; its calls take the
 * group's change lock briefly, never across the peer's answers.
 */
public final class OldSide implements Handoff.Session {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    /** What the session needs of the group (the engine's side of the hand-off). */
    public interface Group {
        /**
         * The lock membership and policy changes take.
         *
         * @return the change lock
         */
        ReentrantLock changes();

        /**
         * Whether the group is closed.
         *
         * @return true once closed (or let go)
         */
        boolean closed();

        /**
         * The group's name, for messages.
         *
         * @return e.g. {@code group TCP 127.0.0.1:8080}
         */
        String describe();

        /**
         * The live slots now, in order (under {@link #changes}).
         *
         * @return the slot ids
         */
        int[] slots();

        /**
         * The live sockets now, in slot order (under {@link #changes}).
         *
         * @return their descriptor numbers
         */
        int[] sockets();

        /**
         * Records an audit event.
         *
         * @param event the event's name
         * @param kv    alternating keys and values
         */
        void audit(String event, Object... kv);

        /**
         * Membership changes fail fast ({@code true}) while a proven hand-off completes.
         *
         * @param held whether membership is held still
         */
        void holdMembership(boolean held);

        /** The peer serves: closes every socket, listener and the program here (under {@link #changes}). */
        void letGo();


        /**
         * The exchange ended (let go, or without a hand-off: then the group keeps serving, its steering back
         * as before).
         *
         * @param session the session that ended
         */
        void ended(OldSide session);
    }

    private final Group group;
    private final Handoff.Layout layout;
    private final AtomicLong refusals;
    private boolean ended;
    /** The peer serves a generation of its own and this group drains: membership stays held. */
    private boolean draining;
    private final java.util.function.IntConsumer drainer;

    /**
     * A session over {@code layout}, whose descriptors it now owns.
     *
     * @param group    the group handed off
     * @param layout   what is sent
     * @param refusals counts confirmations refused for want of proof
     */
    public OldSide(Group group, Handoff.Layout layout, AtomicLong refusals) {
        this(group, layout, refusals, g -> {
            throw new IllegalStateException("this group keeps no socket generations");
        });
    }

    /**
     * A session over {@code layout} whose group can drain into the peer's socket generation.
     *
     * @param group    the group handed off
     * @param layout   what is sent
     * @param refusals counts confirmations refused for want of proof
     * @param drainer  called (under the change lock) when the peer serves its own sockets as generation N
     *                 ({@code serving generation=N}): makes the group drain, its steering frozen, or throws
     *                 {@link IllegalStateException} with the reason it cannot
     */
    public OldSide(Group group, Handoff.Layout layout, AtomicLong refusals, java.util.function.IntConsumer drainer) {
        this.group = group;
        this.layout = layout;
        this.refusals = refusals;
        this.drainer = drainer;
    }

    /**
     * Duplicates {@code fds} (the group's sockets, then program and maps), so that a change during the
     * exchange never sends a closed or reused number.
     *
     * @param fds the descriptors to send
     * @return their duplicates, in order
     * @throws NativeException when one cannot be duplicated (those made are closed)
     */
    public static int[] duplicates(int[] fds) throws NativeException {
        int[] out = new int[fds.length];
        Arrays.fill(out, -1);
        try {
            for (int i = 0; i < fds.length; i++) {
                out[i] = Sys.dup(fds[i]);
            }
            return out;
        } catch (NativeException e) {
            for (int fd : out) {
                if (fd >= 0) {
                    try {
                        Sys.close(fd);
                    } catch (NativeException c) {
                        e.addSuppressed(c);
                    }
                }
            }
            throw e;
        }
    }

    @Override
    public Handoff.Layout layout() {
        return layout;
    }

    @Override
    public String prove(long[] cookies) {
        group.changes().lock();
        try {
            if (group.closed()) {
                return group.describe() + " was closed during the exchange";
            }
            int[] slots = group.slots();
            int[] sockets = group.sockets();
            if (cookies.length != sockets.length) {
                return cookies.length + " cookies for the group's " + sockets.length + " sockets";
            }
            for (int i = 0; i < sockets.length; i++) {
                long own;
                try {
                    own = Sys.getLong(sockets[i], Sys.SOL_SOCKET, Sys.SO_COOKIE);
                } catch (NativeException e) {
                    return "cannot read the cookie of slot " + slots[i] + ": " + e.getMessage();
                }
                if (own != cookies[i]) {
                    return "cookie " + Long.toHexString(cookies[i]) + " for slot " + slots[i] + " is not "
                            + "that of the group's socket (" + Long.toHexString(own) + ")"
                            + (Arrays.equals(slots, layout.slots()) ? "" : "; the membership changed during the "
                            + "exchange");
                }
            }
            group.holdMembership(true);
            return null;
        } finally {
            group.changes().unlock();
        }
    }

    @Override
    public void refused(String reason) {
        long n = refusals.incrementAndGet();
        group.audit("handoff-refused", "reason", reason, "outcome", "still serving", "refused", n);
        LOG.log(System.Logger.Level.WARNING, group.describe() + ": hand-off confirmation refused (" + reason
                + "); still serving");
    }

    @Override
    public void aborted(String reason) {
        if (ended) {
            return;
        }
        ended = true;
        group.holdMembership(false);
        LOG.log(System.Logger.Level.WARNING, group.describe() + ": hand-off not completed (" + reason
                + "); still serving");
        group.audit("handoff-aborted", "reason", reason, "outcome", "still serving", "workers",
                layout.slots().length);
    }

    @Override
    public void letGo() {
        group.changes().lock();
        try {
            ended = true;
            group.holdMembership(false);
            if (!group.closed()) {
                group.letGo();
            }
        } finally {
            group.changes().unlock();
        }
    }

    @Override
    public String drain(int generation) {
        group.changes().lock();
        try {
            ended = true;
            if (group.closed()) {
                return group.describe() + " was closed during the exchange";
            }
            try {
                drainer.accept(generation);
            } catch (IllegalStateException e) {
                group.holdMembership(false);
                group.audit("handoff-generation-refused", "generation", generation, "reason", e.getMessage(),
                        "outcome", "still serving");
                return e.getMessage();
            }
            draining = true; // membership stays held: a draining group's slots and sockets never change
            group.audit("handoff", "workers", layout.slots().length, "table_version", layout.tableVersion(),
                    "generation", generation, "outcome", "the new process serves its own sockets as generation "
                    + generation + "; this group drains (its cookies and flows still reach it) until closed");
            return null;
        } finally {
            group.changes().unlock();
        }
    }

    @Override
    public void close() {
        if (!draining) {
            group.holdMembership(false);
        }
        for (int fd : layout.fds()) {
            try {
                Sys.close(fd);
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.DEBUG, "closing a hand-off duplicate: " + e.getMessage());
            }
        }
        group.ended(this);
    }
}
