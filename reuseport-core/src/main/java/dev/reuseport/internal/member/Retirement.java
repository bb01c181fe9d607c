package dev.reuseport.internal.member;

import dev.reuseport.internal.Audit;
import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.List;

/**
 * How a socket leaves a group: excluded from lookups (UDP), settled after the steering change, drained
 * into a survivor, closed; or, with the select-or-migrate program, closed for the kernel to move its
 * queue. Knows descriptors and the heir it drains into, not workers.
 */
public final class Retirement {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");
    private static volatile boolean settleFallbackLogged;

    private final GroupSpec spec;
    private final Audit audit;
    private final String name;
    private final long pollSliceMillis;

    /** Where a leaving socket's queue goes. */
    public interface Heir {
        /**
         * The survivor's slot, for the audit trail.
         *
         * @return the slot id
         */
        int slot();

        /**
         * Whether accepted connections should be non-blocking (a socket listener takes them).
         *
         * @return true when an external engine serves the group
         */
        boolean nonBlocking();

        /**
         * A connection accepted off the leaving socket.
         *
         * @param fd the connection's descriptor, now the heir's
         */
        void connection(int fd);

        /**
         * A datagram read off the leaving socket.
         *
         * @param data the payload
         * @param from the sender
         */
        void datagram(byte[] data, InetSocketAddress from);
    }

    /**
     * Retirement for one group's sockets.
     *
     * @param spec            the group's sockets
     * @param audit           the group's trail
     * @param name            the group as messages name it
     * @param pollSliceMillis the longest a worker's wait sleeps before looking again
     */
    public Retirement(GroupSpec spec, Audit audit, String name, long pollSliceMillis) {
        this.spec = spec;
        this.audit = audit;
        this.name = name;
        this.pollSliceMillis = pollSliceMillis;
    }

    /**
     * Closes a socket that left a worker. TCP with the migrate program: the kernel moves its queue when
     * the last reference closes. Otherwise the socket is drained into {@code heir} and closed right after,
     * in this thread: no new call may start on it, a UDP receive in flight is woken (shutdown), and once
     * the last call has let go (waiting up to four poll slices; past that the last call does what follows
     * when it ends) the queue is drained and the number closed. The callers settle ({@link #settle()})
     * between the steering change and this, so everything steered here is queued by then. Draining while
     * a worker thread still polls the socket would leave a window in which a datagram is queued on a
     * socket that its poller then closes unread. A TCP listener that was lent to a socket listener
     * ({@code external}) is shut down for reading before the close, so that a duplicate still open
     * elsewhere cannot keep it in the group.
     *
     * @param old            the leaving socket
     * @param heir           where its queue goes
     * @param external       whether a duplicate was lent to a socket listener
     * @param kernelMigrates whether the select-or-migrate program is attached
     * @throws NativeException when the wake-up or the close fails (the socket is closed regardless)
     */
    public void retire(NativeFd old, Heir heir, boolean external, boolean kernelMigrates) throws NativeException {
        if (spec.tcp() && kernelMigrates) {
            if (external) {
                stopListening(old);
            }
            old.close();
            return;
        }
        if (!old.closeHeld()) {
            return;
        }
        NativeException wake = null;
        if (!spec.tcp()) {
            // wakes a receive blocked in poll(2) on it; a UDP socket still queues and reads after this
            try {
                Sys.shutdown(old.number(), Sys.SHUT_RD);
            } catch (NativeException e) {
                wake = e; // the close below still happens; the caller hears of it after
            }
        }
        long deadline = System.nanoTime() + 4L * pollSliceMillis * 1_000_000;
        boolean drained = old.finishHeld(deadline, n -> {
            if (!spec.tcp()) {
                excludeFromLookups(n);
            }
            // the caller settled after the steering change: what was steered here is queued now
            drain(n, heir);
            if (external && spec.tcp()) {
                Sys.shutdown(n, Sys.SHUT_RD);
            }
        });
        if (!drained) {
            audit.record("drain-deferred", "heir", heir.slot(), "reason", "a call on the leaving socket did not end in "
                    + 4 * pollSliceMillis + " ms; that call drains and closes it when it ends");
        }
        if (wake != null) {
            throw wake;
        }
    }

    /**
     * shutdown(SHUT_RD) on a listener: it leaves the SO_REUSEPORT group and its queue moves or resets.
     *
     * @param f the listener
     * @throws NativeException when shutdown fails other than with ENOTCONN
     */
    public static void stopListening(NativeFd f) throws NativeException {
        int n;
        try {
            n = f.acquire();
        } catch (ClosedChannelException e) {
            return;
        }
        try {
            Sys.shutdown(n, Sys.SHUT_RD);
        } catch (NativeException e) {
            if (!e.is(Errno.ENOTCONN)) {
                throw e;
            }
        } finally {
            f.release();
        }
    }

    /**
     * Takes a leaving UDP socket out of the kernel's lookups before its drain and close, by connecting it
     * to a peer that never sends (loopback at the group's own port): a connected socket scores -1 for
     * every other source, and the kernel hash skips connected members. Without this, close(2) has a
     * window in which the socket is already out of the reuseport group but still first in the port's
     * hash chain (IPv4 adds new sockets at the head, so the newest members, the ones a shrink closes,
     * are met first), and a datagram that meets it there is queued on a socket being destroyed, lost
     * without a counter. The price: the kernel marks the group as having connected members, and UDP
     * lookups then compare the other members' scores after the steering choice (a few compares a
     * datagram). A failure is logged; the drain and close go on as before.
     */
    private void excludeFromLookups(int n) {
        try {
            InetAddress peer = InetAddress.getByName(spec.family() == SockAddr.AF_INET6 ? "::1" : "127.0.0.1");
            Sys.connect(n, new InetSocketAddress(peer, spec.local().getPort()), spec.family());
        } catch (NativeException | UnknownHostException e) {
            audit.record("exclude-failed", "fd", n, "error", e.getMessage());
            LOG.log(System.Logger.Level.WARNING, name + ": could not take a leaving socket out of lookups ("
                    + e.getMessage() + "); a datagram arriving as it closes may be lost");
        }
    }

    /** Moves what is queued on leaving socket {@code n} to {@code heir}. */
    private void drain(int n, Heir heir) throws NativeException {
        if (spec.tcp()) {
            int c;
            while ((c = Sys.accept(n, heir.nonBlocking())) >= 0) {
                heir.connection(c);
            }
        } else {
            ByteBuffer buf = ByteBuffer.allocateDirect(65536);
            InetSocketAddress from;
            while ((from = Sys.receive(n, buf.clear(), Sys.MSG_DONTWAIT)) != null) {
                buf.flip();
                byte[] data = new byte[buf.remaining()];
                buf.get(data);
                heir.datagram(data, from);
            }
        }
    }

    /**
     * After a steering change and before a leaving socket is drained: waits for an RCU grace period
     * ({@link Sys#rcuGracePeriod()}). The steering program and the enqueue of the packet it steered run
     * in one RCU read-side section (softirq), so once the grace period has passed, every packet steered
     * by the old table or slot array is on its socket's queue, however long the CPU was held up in
     * between (a descheduled vCPU); nothing steered before the change can arrive after the drain. Where
     * the kernel refuses (membarrier missing, or nohz_full) a 2 ms pause stands in, which covers the
     * usual microseconds from selection to queue but not a stall. Called with no lock held that a
     * fallback or a getter needs.
     */
    public static void settle() {
        try {
            Sys.rcuGracePeriod();
            return;
        } catch (NativeException e) {
            if (!settleFallbackLogged) {
                settleFallbackLogged = true;
                LOG.log(System.Logger.Level.INFO, "no RCU grace period from membarrier (" + e.getMessage()
                        + "); steering changes settle with a 2 ms pause instead");
            }
        }
        try {
            Thread.sleep(2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits (bounded by four poll slices) until calls in flight on the old sockets have let go and the
     * numbers are closed.
     *
     * @param old the sockets retired
     */
    public void awaitReleased(List<NativeFd> old) {
        long deadline = System.nanoTime() + 4L * pollSliceMillis * 1_000_000;
        for (NativeFd f : old) {
            while (!f.isReleased() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
