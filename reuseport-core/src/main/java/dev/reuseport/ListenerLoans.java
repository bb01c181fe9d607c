package dev.reuseport;

import dev.reuseport.internal.member.Loans;
import dev.reuseport.internal.member.Retirement;
import dev.reuseport.sys.internal.NativeFd;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The socket listeners attached to a group ({@link GroupLending#attach}) and what each was lent: one
 * duplicate per member socket ({@link Loans}), made when the socket joins the listener and taken back
 * when it leaves. It also knows which listener serves traffic, and so where a leaving socket's queue goes
 * ({@link #heir}). {@link GroupEngine} decides when a socket joins or leaves and calls here under its
 * change lock, which orders every write; {@link #served()} reads without a lock. It knows the workers and
 * the listeners, never the engine.
 */
final class ListenerLoans {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final String group;
    private final AuditLog audit;
    /** The attached socket listeners (I/O engines, observers), in attach order; written under the change lock. */
    private final List<SocketListener> attached = new CopyOnWriteArrayList<>();
    /** Per attached listener, the duplicates lent to it; under the change lock. */
    private final Map<SocketListener, Loans> loans = new IdentityHashMap<>();

    /**
     * Loans for the group named {@code group}, none yet.
     *
     * @param group the group's name, for messages
     * @param audit the group's trail
     */
    ListenerLoans(String group, AuditLog audit) {
        this.group = group;
        this.audit = audit;
    }

    /**
     * Attaches {@code listener} and lends it every socket of {@code live}; when {@code joined} fails for one,
     * the sockets given are taken back, the listener is forgotten and the failure thrown.
     */
    void attach(SocketListener listener, List<Worker> live) throws IOException {
        if (attached.contains(listener)) {
            throw new IllegalStateException(group + " already has socket listener " + listener
                    + " attached; accepted: each listener once (detach it first)");
        }
        SocketListener serving = serving();
        if (listener.servesTraffic() && serving != null) {
            throw new IllegalStateException(group + " already has socket listener " + serving
                    + " serving its traffic; accepted: one traffic-serving listener at a time (detach it"
                    + " first), any number of observers (servesTraffic() false)");
        }
        attached.add(listener);
        loans.put(listener, new Loans());
        try {
            for (Worker w : live) {
                join(listener, w, w.socket());
            }
        } catch (IOException | RuntimeException e) {
            for (Worker w : live) {
                leave(listener, w, w.socket());
            }
            attached.remove(listener);
            loans.remove(listener);
            throw e;
        }
        audit.record("listener-attached", "listener", listener.getClass().getName(), "workers", live.size());
    }

    /** Takes every socket of {@code live} back from {@code listener}; nothing when it is not attached. */
    void detach(SocketListener listener, List<Worker> live) {
        if (listener == null || !attached.contains(listener)) {
            return;
        }
        for (Worker w : live) {
            leave(listener, w, w.socket());
        }
        attached.remove(listener);
        loans.remove(listener);
        audit.record("listener-detached", "listener", listener.getClass().getName());
    }

    /** Forgets every listener and loan (the group closed or was handed off, after its sockets left). */
    void clear() {
        attached.clear();
        loans.clear();
    }

    /** Whether a listener that serves traffic is attached (it then serves the workers a resize adds). */
    boolean served() {
        return serving() != null;
    }

    /** The attached listener that serves traffic (and takes a leaving socket's queue), or null. */
    private SocketListener serving() {
        for (SocketListener l : attached) {
            if (l.servesTraffic()) {
                return l;
            }
        }
        return null;
    }

    /** Lends every attached listener a duplicate of the worker's socket. */
    void join(Worker w) throws IOException {
        join(w, w.socket());
    }

    /** Lends every attached listener a duplicate of {@code f}, the worker's next socket. */
    void join(Worker w, NativeFd f) throws IOException {
        for (SocketListener l : attached) {
            join(l, w, f);
        }
    }

    /** Lends {@code l} a duplicate of {@code f}, a socket of {@code w}. */
    private void join(SocketListener l, Worker w, NativeFd f) throws IOException {
        int dup = loans.get(l).lend(f);
        try {
            l.joined(w, dup);
        } catch (IOException | RuntimeException e) {
            audit.record("listener-failed", "call", "joined", "slot", w.slot(), "error", e.toString());
            throw e;
        }
    }

    /** Takes every listener's duplicate of the worker's socket back; whether one had been lent. */
    boolean leave(Worker w) {
        return leave(w, w.socket());
    }

    /** Takes every listener's duplicate of {@code f} back; whether one had been lent. */
    boolean leave(Worker w, NativeFd f) {
        boolean any = false;
        for (SocketListener l : attached) {
            any |= leave(l, w, f);
        }
        return any;
    }

    /** Takes {@code l}'s duplicate of {@code f} back; whether one had been lent. */
    private boolean leave(SocketListener l, Worker w, NativeFd f) {
        Loans mine = loans.get(l);
        Integer dup = mine == null ? null : mine.takeBack(f);
        if (dup == null) {
            return false;
        }
        try {
            l.leaving(w, dup);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, group + ": socket listener failed to let go of slot " + w.slot()
                    + " (fd " + dup + "): " + e);
            audit.record("listener-failed", "call", "leaving", "slot", w.slot(), "error", e.toString());
        }
        return true;
    }

    /** Where a leaving socket's queue goes: {@code w}, or the socket listener when one is attached. */
    Retirement.Heir heir(Worker w) {
        SocketListener l = serving();
        return new Retirement.Heir() {
            @Override
            public int slot() {
                return w.slot();
            }

            @Override
            public boolean nonBlocking() {
                return l != null;
            }

            @Override
            public void connection(int fd) {
                if (l != null) {
                    l.handedOver(w, new Connection(fd, w.slot(), true));
                } else {
                    w.handOver(new Connection(fd, w.slot(), false));
                }
            }

            @Override
            public void datagram(byte[] data, InetSocketAddress from) {
                if (l != null) {
                    l.handedOver(w, data, from);
                } else {
                    w.handOver(data, from);
                }
            }
        };
    }
}
