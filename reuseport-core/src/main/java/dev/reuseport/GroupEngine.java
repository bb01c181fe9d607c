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

    Capabilities policy(Policy next) throws IOException {
        changes.lock();
        try {
            return steering.policy(next);
        } finally {
            changes.unlock();
        }
    }

    Capabilities dissector(dev.reuseport.bpf.Dissector next) throws IOException {
        changes.lock();
        try {
            return steering.dissector(next);
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

    /**
     * Runs a hand-off exchange with membership and policy held still ({@link #changes}; a fallback may
     * still run, and is then reported); when the peer confirms, lets go of every descriptor (without
     * shutting a socket down: the peer shares them) and the group reads as closed here.
     */
    boolean handOff(Handoff.Exchange exchange, Handoff.Goodbye goodbye) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            List<Worker> ws = members.live();
            GroupSteering.Snapshot st = steering.snapshot();
            SteerProgram program = st.program();
            int extra = program == null ? 0 : SteerProgram.MAPS.size() + 1;
            int[] fds = new int[ws.size() + extra];
            for (int i = 0; i < ws.size(); i++) {
                fds[i] = ws.get(i).socket().number();
            }
            if (program != null) {
                System.arraycopy(program.descriptors(), 0, fds, ws.size(), extra);
            }
            Handoff.Layout layout = new Handoff.Layout(protocol.name(), spec.local().getAddress().getHostAddress(),
                    spec.local().getPort(), spec.backlog(), spec.receiveBuffer(), st.policy(), st.tableVersion(),
                    slots(), program == null ? null : program.program().name(), fds);
            if (!exchange.run(layout)) { // the peer's answers: no steering lock held
                LOG.log(System.Logger.Level.WARNING, describe() + ": hand-off not confirmed; still serving");
                audit.record("handoff-aborted", "outcome", "still serving", "workers", ws.size());
                return false;
            }
            audit.record("handoff", "workers", ws.size(), "table_version", layout.tableVersion(), "outcome",
                    "descriptors passed; letting go");
            if (steering.tableVersion() != layout.tableVersion()) {
                audit.record("handoff-steering-changed", "sent_table_version", layout.tableVersion(), "table_version",
                        steering.tableVersion(), "policy", steering.policy().spec(), "outcome", "the new process reads the "
                        + "policy it was sent; the program's maps, which it shares, hold the later table");
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
        try {
            goodbye.run();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "hand-off goodbye not delivered: " + e.getMessage());
        }
        return true;
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
