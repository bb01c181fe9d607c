package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.member.GroupSpec;
import dev.reuseport.internal.member.Loans;
import dev.reuseport.internal.member.MemberSockets;
import dev.reuseport.internal.member.Retirement;
import dev.reuseport.internal.member.SlotTable;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.NativeFd;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

/**
 * The one place that orders a change of a group (remove, add, restart, resize, policy, shadow,
 * fallback, hand-off, close) as a script over its members ({@code internal.member}) and its steering
 * ({@code internal.steer}). {@link ReuseportGroup} checks arguments and makes one call here; users
 * never reach this class.
 *
 * <p>Two locks. {@link #changes} lets one membership or policy change run at a time; it may be held
 * across an RCU grace period, a drain and a hand-off's exchange with the peer. The steering lock
 * ({@link GroupSteering}) guards the program, its table and the policy, and is held only for map updates
 * and bookkeeping, never across a sleep or another process's answer. {@link #fallback} takes the steering
 * lock alone, so it never waits behind a restart or a hand-off; the getters take no lock.
 */
final class GroupEngine {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final ReuseportGroup group;
    private final Protocol protocol;
    private final GroupSpec spec;
    private final ReentrantLock changes = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final SlotTable<Worker> members = new SlotTable<>(ReuseportGroup.MAX_WORKERS, Worker[]::new);
    private final AuditLog audit;
    private final GroupSteering steering;
    private final Retirement retirement;
    /** Per attached listener, the duplicates lent to it; under {@link #changes}. */
    private final java.util.Map<SocketListener, Loans> loans = new java.util.IdentityHashMap<>();
    /** Socket generations swapped in; written under {@link #changes}. */
    private volatile long restarts;
    /** The attached socket listeners (I/O engines, observers), in attach order; written under {@link #changes}. */
    private final List<SocketListener> socketListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    GroupEngine(ReuseportGroup group, Protocol protocol, GroupSpec spec, int[] slots, int[] fds, Capabilities caps) {
        this.group = group;
        this.protocol = protocol;
        this.spec = spec;
        for (int i = 0; i < fds.length; i++) {
            members.set(slots[i], new Worker(group, describe(), slots[i], protocol, spec.family(), fds[i]));
        }
        this.audit = new AuditLog(caps.kernelRelease(), caps.backend());
        this.steering = new GroupSteering(describe(), protocol, members,
                () -> members.live().stream().mapToInt(w -> w.socket().number()).toArray(), closed, caps, audit, spec.flowCapacity());
        this.retirement = new Retirement(spec, audit::record, describe(), Worker.POLL_SLICE_MILLIS);
    }

    /** How many callers wait for the change in progress to end (for tests). */
    int queuedChanges() {
        return changes.getQueueLength();
    }

    /** Whether a membership or policy change (or a hand-off) is running now. */
    boolean changing() {
        return changes.isLocked();
    }

    Protocol protocol() {
        return protocol;
    }

    InetSocketAddress localAddress() {
        return spec.local();
    }

    AuditLog audit() {
        return audit;
    }

    GroupSteering steering() {
        return steering;
    }

    long steerWaits() {
        return steering.waits();
    }

    Capabilities capabilities() {
        return steering.capabilities();
    }

    Policy policy() {
        return steering.policy();
    }

    PolicyChange policy(Policy next) throws IOException {
        long since = System.nanoTime();
        changes.lock();
        try {
            return steering.policy(next, since);
        } finally {
            changes.unlock();
        }
    }

    boolean shadow(Policy candidate) throws IOException {
        changes.lock();
        try {
            return steering.shadow(candidate);
        } finally {
            changes.unlock();
        }
    }

    /** Never waits behind a change in progress: the steering lock alone (see {@link GroupSteering#fallback}). */
    long fallback(String reason) throws IOException {
        return steering.fallback(reason);
    }

    int tableVersion() {
        return steering.tableVersion();
    }

    long restarts() {
        return restarts;
    }

    List<Worker> workers() {
        return List.copyOf(members.live());
    }

    List<WorkerStats> stats() throws IOException {
        ensureOpen();
        List<WorkerStats> out = new ArrayList<>();
        for (Worker w : members.live()) {
            out.add(w.stats());
        }
        return out;
    }

    int[] slots() {
        return members.slots();
    }

    Worker worker(int slot) {
        Worker w = members.get(slot);
        if (w == null) {
            throw new IllegalArgumentException("slot " + slot + " does not exist; accepted: one of "
                    + Arrays.toString(slots()));
        }
        return w;
    }

    boolean isClosed() {
        return closed.get();
    }

    void ensureOpen() throws GroupClosedException {
        if (closed.get()) {
            throw new GroupClosedException(describe());
        }
    }

    String describe() {
        return "group " + protocol + " " + GroupOpening.format(spec.local());
    }


    void removeWorker(int slot) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            Worker w = worker(slot);
            if (members.live().size() == 1) {
                throw new IllegalStateException("slot " + slot + " is the last worker of " + describe()
                        + "; accepted: removing a worker while at least one other remains (close the group instead)");
            }
            int[] live = Arrays.stream(slots()).filter(s -> s != slot).toArray();
            boolean attached = steering.attached();
            boolean routed = steering.steerAround(slot, live);
            if (attached) {
                Retirement.settle();
            }
            members.set(slot, null);
            audit.record("remove-worker", "slot", slot, "workers", members.live().size(), "policy",
                    steering.policy().spec());
            Worker heir = members.live().get(0);
            NativeFd gone = w.socket();
            boolean external = leaveListener(w, gone);
            w.markRemoved(); // its calls now say "removed", not "group closed"
            int parked = w.moveParkedTo(heir); // work parked in its memory goes to the heir, never abandoned
            if (parked > 0) {
                audit.record("parked-moved", "slot", slot, "heir", heir.slot(), "moved", parked);
            }
            retirement.retire(gone, heir(heir), external, steering.migrates());
            retirement.awaitReleased(List.of(gone));
            if (routed) {
                steering.restoreAfterRouting("remove slot " + slot + " done");
            }
        } finally {
            changes.unlock();
        }
    }


    Worker addWorker() throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            int slot = members.lowestFree();
            if (slot < 0) {
                throw new IllegalStateException(describe() + " has " + ReuseportGroup.MAX_WORKERS
                        + " workers; accepted: at most " + ReuseportGroup.MAX_WORKERS);
            }
            int fd;
            try {
                fd = MemberSockets.open(spec);
            } catch (NativeException e) {
                throw new ReuseportException("cannot add a worker to " + describe() + ": " + e.getMessage(), e);
            }
            Worker w = new Worker(group, describe(), slot, protocol, spec.family(), fd);
            try {
                steering.joined(slot, fd);
                members.set(slot, w);
                joinListener(w);
                audit.record("add-worker", "slot", slot, "workers", members.live().size(), "policy",
                        steering.policy().spec());
                steering.replan("add slot " + slot);
                return w;
            } catch (IOException | RuntimeException e) {
                members.set(slot, null);
                leaveListener(w, w.socket());
                w.close();
                throw e;
            }
        } finally {
            changes.unlock();
        }
    }

    List<Worker> resize(int workers) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            List<Worker> added = new ArrayList<>();
            while (members.live().size() < workers) {
                added.add(addWorker());
            }
            while (members.live().size() > workers) {
                List<Worker> live = members.live();
                removeWorker(live.get(live.size() - 1).slot());
            }
            return List.copyOf(added);
        } finally {
            changes.unlock();
        }
    }

    /** Swaps in the next socket generation of every worker ({@code all}) or of the one in {@code slot}. */
    void restart(boolean all, int slot) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            swap(all ? members.live() : List.of(worker(slot)));
        } finally {
            changes.unlock();
        }
    }

    private void swap(List<Worker> ws) throws IOException {
        int[] fresh = new int[ws.size()];
        Arrays.fill(fresh, -1);
        try {
            for (int i = 0; i < fresh.length; i++) {
                fresh[i] = MemberSockets.open(spec);
            }
        } catch (NativeException e) {
            MemberSockets.closeAll(fresh, e);
            throw new ReuseportException("restart of " + describe() + " failed opening the next socket generation; "
                    + "the current one keeps serving: " + e.getMessage(), e);
        }
        boolean attached = steering.attached();
        boolean routed = steering.swapIn(ws.stream().mapToInt(Worker::slot).toArray(), fresh);
        if (attached) {
            Retirement.settle();
        }
        List<NativeFd> old = new ArrayList<>();
        IOException notJoined = null;
        for (int i = 0; i < fresh.length; i++) {
            Worker w = ws.get(i);
            NativeFd prev = w.swap(fresh[i]);
            try {
                joinListener(w); // the engine serves the new socket before the old one leaves
            } catch (IOException e) {
                if (notJoined == null) {
                    notJoined = e;
                } else {
                    notJoined.addSuppressed(e);
                }
            }
            boolean external = leaveListener(w, prev);
            retirement.retire(prev, heir(w), external, steering.migrates());
            old.add(prev);
        }
        retirement.awaitReleased(old);
        if (routed) {
            steering.restoreAfterRouting("restart done");
        }
        restarts++;
        audit.record("restart", "slots", ws.stream().map(w -> String.valueOf(w.slot())).collect(
                Collectors.joining(",")), "migrating", steering.migrates(), "restarts", restarts);
        ReuseportEvents.restart(describe(), ws.size(), restarts);
        if (notJoined != null) {
            throw new ReuseportException("restart of " + describe() + " done, but the socket listener did not take "
                    + "every new socket: " + notJoined.getMessage(), notJoined);
        }
    }

    /** Where a leaving socket's queue goes: {@code w}, or the socket listener when one is attached. */
    private Retirement.Heir heir(Worker w) {
        SocketListener l = servingListener();
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

    /** Closes sockets this process held on the port while a hand-off ran; their queues move to the workers. */
    void absorb(int[] fds) {
        changes.lock();
        try {
            List<Worker> ws = members.live();
            for (int i = 0; i < fds.length; i++) {
                try {
                    retirement.retire(new NativeFd(fds[i], false), heir(ws.get(i % ws.size())), false,
                            steering.migrates());
                } catch (NativeException e) {
                    // the socket is closed (retire closes it whatever the drain did); say what happened
                    audit.record("standby-close-failed", "fd", fds[i], "error", e.getMessage());
                    LOG.log(System.Logger.Level.WARNING, describe() + ": closing a standby socket: " + e.getMessage());
                }
            }
        } finally {
            changes.unlock();
        }
    }

    void attach(SocketListener listener) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            if (socketListeners.contains(listener)) {
                throw new IllegalStateException(describe() + " already has socket listener " + listener
                        + " attached; accepted: each listener once (detach it first)");
            }
            SocketListener serving = servingListener();
            if (listener.servesTraffic() && serving != null) {
                throw new IllegalStateException(describe() + " already has socket listener " + serving
                        + " serving its traffic; accepted: one traffic-serving listener at a time (detach it"
                        + " first), any number of observers (servesTraffic() false)");
            }
            socketListeners.add(listener);
            loans.put(listener, new Loans());
            try {
                for (Worker w : members.live()) {
                    joinListener(listener, w);
                }
            } catch (IOException | RuntimeException e) {
                for (Worker w : members.live()) {
                    leaveListener(listener, w, w.socket());
                }
                socketListeners.remove(listener);
                loans.remove(listener);
                throw e;
            }
            audit.record("listener-attached", "listener", listener.getClass().getName(), "workers",
                    members.live().size());
        } finally {
            changes.unlock();
        }
    }

    void detach(SocketListener listener) {
        changes.lock();
        try {
            if (listener == null || !socketListeners.contains(listener)) {
                return;
            }
            for (Worker w : members.live()) {
                leaveListener(listener, w, w.socket());
            }
            socketListeners.remove(listener);
            loans.remove(listener);
            audit.record("listener-detached", "listener", listener.getClass().getName());
        } finally {
            changes.unlock();
        }
    }

    /** The attached listener that serves traffic (and takes a leaving socket's queue), or null. */
    private SocketListener servingListener() {
        for (SocketListener l : socketListeners) {
            if (l.servesTraffic()) {
                return l;
            }
        }
        return null;
    }

    /** Lends every attached listener a duplicate of the worker's socket. */
    private void joinListener(Worker w) throws IOException {
        for (SocketListener l : socketListeners) {
            joinListener(l, w);
        }
    }

    /** Lends {@code l} a duplicate of the worker's socket. */
    private void joinListener(SocketListener l, Worker w) throws IOException {
        int dup = loans.get(l).lend(w.socket());
        try {
            l.joined(w, dup);
        } catch (IOException | RuntimeException e) {
            audit.record("listener-failed", "call", "joined", "slot", w.slot(), "error", e.toString());
            throw e;
        }
    }

    /** Takes every listener's duplicate of {@code f} back; whether one had been lent. */
    private boolean leaveListener(Worker w, NativeFd f) {
        boolean any = false;
        for (SocketListener l : socketListeners) {
            any |= leaveListener(l, w, f);
        }
        return any;
    }

    /** Takes {@code l}'s duplicate of {@code f} back; whether one had been lent. */
    private boolean leaveListener(SocketListener l, Worker w, NativeFd f) {
        Loans mine = loans.get(l);
        Integer dup = mine == null ? null : mine.takeBack(f);
        if (dup == null) {
            return false;
        }
        try {
            l.leaving(w, dup);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, describe() + ": socket listener failed to let go of slot " + w.slot()
                    + " (fd " + dup + "): " + e);
            audit.record("listener-failed", "call", "leaving", "slot", w.slot(), "error", e.toString());
        }
        return true;
    }

    /** Hand-off confirmations refused for want of proof (wrong, missing or stale cookies). */
    private final java.util.concurrent.atomic.AtomicLong handoffsRefused = new java.util.concurrent.atomic.AtomicLong();
    /** The hand-off session running, or null; written under {@link #changes}. */
    private volatile HandOffSession handingOff;
    /** Set once a hand-off's proof matched, until it let go or broke off: membership changes fail fast. */
    private volatile boolean membershipHeld;

    long handoffsRefused() {
        return handoffsRefused.get();
    }

    /** Membership changes refuse at once (never wait) while a proven hand-off completes. */
    private void ensureMembershipFree() {
        if (membershipHeld) {
            throw new IllegalStateException(describe() + " is being handed off to another process (its proof "
                    + "matched; it completes or breaks off within its deadline); accepted: retry after the hand-off");
        }
    }

    /**
     * Starts the old side of a hand-off: a snapshot of the sockets (duplicates, so that a change meanwhile
     * never sends a closed or reused number), the program and the layout, taken under {@link #changes},
     * which is released before any byte goes to the peer. Restarts, resizes, policies, the watchdog and
     * fallbacks run while the peer answers; the proof is then compared with the sockets of that moment.
     */
    Handoff.Session handOff() throws IOException {
        changes.lock();
        try {
            ensureOpen();
            if (handingOff != null) {
                throw new IllegalStateException(describe() + " is already being handed off; accepted: one hand-off at a "
                        + "time");
            }
            List<Worker> ws = members.live();
            GroupSteering.Snapshot st = steering.snapshot();
            SteerProgram program = st.program();
            int extra = program == null ? 0 : SteerProgram.MAPS.size() + 1;
            int[] fds = new int[ws.size() + extra];
            Arrays.fill(fds, -1);
            try {
                for (int i = 0; i < ws.size(); i++) {
                    fds[i] = dev.reuseport.sys.internal.Sys.dup(ws.get(i).socket().number());
                }
                if (program != null) {
                    int[] p = program.descriptors();
                    for (int i = 0; i < extra; i++) {
                        fds[ws.size() + i] = dev.reuseport.sys.internal.Sys.dup(p[i]);
                    }
                }
            } catch (NativeException e) {
                MemberSockets.closeAll(fds, e);
                throw new ReuseportException("hand-off of " + describe() + " cannot duplicate its descriptors: "
                        + e.getMessage(), e);
            }
            Handoff.Layout layout = new Handoff.Layout(protocol.name(), spec.local().getAddress().getHostAddress(),
                    spec.local().getPort(), spec.backlog(), spec.receiveBuffer(), st.policy(), st.tableVersion(),
                    slots(), program == null ? null : program.program().name(), fds);
            HandOffSession s = new HandOffSession(layout, ws.size());
            handingOff = s;
            return s;
        } finally {
            changes.unlock();
        }
    }

    /** One old-side exchange; its calls take {@link #changes} briefly, never across the peer's answers. */
    private final class HandOffSession implements Handoff.Session {
        private final Handoff.Layout layout;
        private final int sockets;
        private boolean ended;

        HandOffSession(Handoff.Layout layout, int sockets) {
            this.layout = layout;
            this.sockets = sockets;
        }

        @Override
        public Handoff.Layout layout() {
            return layout;
        }

        @Override
        public String prove(long[] cookies) {
            changes.lock();
            try {
                if (closed.get()) {
                    return describe() + " was closed during the exchange";
                }
                List<Worker> ws = members.live();
                if (cookies.length != ws.size()) {
                    return cookies.length + " cookies for the group's " + ws.size() + " sockets";
                }
                for (int i = 0; i < ws.size(); i++) {
                    long own;
                    try {
                        own = dev.reuseport.sys.internal.Sys.getLong(ws.get(i).socket().number(),
                                dev.reuseport.sys.internal.Sys.SOL_SOCKET, dev.reuseport.sys.internal.Sys.SO_COOKIE);
                    } catch (NativeException e) {
                        return "cannot read the cookie of slot " + ws.get(i).slot() + ": " + e.getMessage();
                    }
                    if (own != cookies[i]) {
                        return "cookie " + Long.toHexString(cookies[i]) + " for slot " + ws.get(i).slot() + " is not "
                                + "that of the group's socket (" + Long.toHexString(own) + ")"
                                + (Arrays.equals(slots(), layout.slots()) ? "" : "; the membership changed during the "
                                + "exchange");
                    }
                }
                membershipHeld = true;
                return null;
            } finally {
                changes.unlock();
            }
        }

        @Override
        public void refused(String reason) {
            handoffsRefused.incrementAndGet();
            audit.record("handoff-refused", "reason", reason, "outcome", "still serving", "refused",
                    handoffsRefused.get());
            LOG.log(System.Logger.Level.WARNING, describe() + ": hand-off confirmation refused (" + reason
                    + "); still serving");
        }

        @Override
        public void aborted(String reason) {
            if (ended) {
                return;
            }
            ended = true;
            membershipHeld = false;
            LOG.log(System.Logger.Level.WARNING, describe() + ": hand-off not completed (" + reason + "); still serving");
            audit.record("handoff-aborted", "reason", reason, "outcome", "still serving", "workers", sockets);
        }

        @Override
        public void letGo() {
            changes.lock();
            try {
                ended = true;
                membershipHeld = false;
                if (closed.get()) {
                    return;
                }
                List<Worker> ws = members.live();
                audit.record("handoff", "workers", ws.size(), "table_version", layout.tableVersion(), "outcome",
                        "descriptors passed and proven; letting go");
                if (steering.tableVersion() != layout.tableVersion()) {
                    audit.record("handoff-steering-changed", "sent_table_version", layout.tableVersion(), "table_version",
                            steering.tableVersion(), "policy", steering.policy().spec(), "outcome", "the new process "
                            + "reads the policy it was sent; the program's maps, which it shares, hold the later table");
                }
                closed.set(true);
                for (Worker w : ws) {
                    leaveListener(w, w.socket());
                }
                socketListeners.clear();
                loans.clear();
                for (Worker w : ws) {
                    try {
                        w.close();
                    } catch (NativeException e) {
                        LOG.log(System.Logger.Level.WARNING, "after hand-off, closing " + w + ": " + e.getMessage());
                    }
                }
                steering.close();
            } finally {
                changes.unlock();
            }
        }

        @Override
        public void close() {
            membershipHeld = false;
            for (int fd : layout.fds()) {
                try {
                    dev.reuseport.sys.internal.Sys.close(fd);
                } catch (NativeException e) {
                    LOG.log(System.Logger.Level.DEBUG, "closing a hand-off duplicate: " + e.getMessage());
                }
            }
            changes.lock();
            try {
                if (handingOff == this) {
                    handingOff = null;
                }
            } finally {
                changes.unlock();
            }
        }
    }

    void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        IOException first = null;
        changes.lock();
        try {
            for (Worker w : members.live()) {
                try {
                    if (leaveListener(w, w.socket()) && protocol == Protocol.TCP) {
                        Retirement.stopListening(w.socket());
                    }
                    int parked = w.closeParked();
                    if (parked > 0) {
                        audit.record("parked-closed", "slot", w.slot(), "closed", parked);
                    }
                    w.close();
                } catch (NativeException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
            socketListeners.clear();
            loans.clear();
            steering.close(); // the program leaves with the group's last member
        } finally {
            changes.unlock();
        }
        if (first != null) {
            throw first;
        }
    }
}
