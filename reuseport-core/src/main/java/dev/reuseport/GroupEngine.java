package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.handoff.OldSide;
import dev.reuseport.internal.member.ChangeSteps;
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
    /** A test's fault injection at the steps of a change ({@link GroupSpec#steps()}); none in production. */
    private final ChangeSteps steps;

    GroupEngine(ReuseportGroup group, Protocol protocol, GroupSpec spec, int[] slots, int[] fds, Capabilities caps) {
        this.group = group;
        this.protocol = protocol;
        this.spec = spec;
        this.steps = spec.steps() == null ? ChangeSteps.NONE : spec.steps();
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

    /** A policy switch: on a failure at any step the saved table, version and policy are back. */
    PolicyChange policy(Policy next) throws IOException {
        long since = System.nanoTime();
        changes.lock();
        try {
            GroupSteering.Saved saved = steering.saved();
            try {
                step("policy", "begin");
                PolicyChange c = steering.policy(next, since);
                step("policy", "published");
                return c;
            } catch (IOException | RuntimeException e) {
                rollBack(e, "policy", saved, new int[0]);
                throw e;
            }
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

    /** Shadowing a policy: on a failure at any step the saved table, version and policy are back. */
    boolean shadow(Policy candidate) throws IOException {
        changes.lock();
        try {
            GroupSteering.Saved saved = steering.saved();
            try {
                step("shadow", "begin");
                boolean on = steering.shadow(candidate);
                step("shadow", "published");
                return on;
            } catch (IOException | RuntimeException e) {
                rollBack(e, "shadow", saved, new int[0]);
                throw e;
            }
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


    /** Removes one worker: all or nothing until its socket leaves (see {@link #removeSlots}). */
    void removeWorker(int slot) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            worker(slot);
            if (members.live().size() == 1) {
                throw new IllegalStateException("slot " + slot + " is the last worker of " + describe()
                        + "; accepted: removing a worker while at least one other remains (close the group instead)");
            }
            removeSlots(new int[] {slot}, "remove");
            audit.record("remove-worker", "slot", slot, "workers", members.live().size(), "policy",
                    steering.policy().spec());
        } finally {
            changes.unlock();
        }
    }

    /**
     * Takes the workers in {@code leaving} out. Until their sockets leave (the point of no return) every
     * step is undone on a failure: the slots and members are back, the socket array and the table (with its
     * version) are the saved ones, and the old sockets still serve. After it, the change completes; a later
     * failure is reported once it has.
     */
    private void removeSlots(int[] leaving, String change) throws IOException {
        List<Worker> ws = new ArrayList<>();
        int[] fds = new int[leaving.length];
        for (int i = 0; i < leaving.length; i++) {
            ws.add(members.get(leaving[i]));
            fds[i] = ws.get(i).socket().number();
        }
        GroupSteering.Saved saved = steering.saved(leaving);
        boolean attached = steering.attached();
        boolean routed = false;
        try {
            step(change, "begin");
            java.util.Set<Integer> gone = new java.util.HashSet<>();
            for (int slot : leaving) {
                gone.add(slot);
                int[] live = Arrays.stream(slots()).filter(s -> !gone.contains(s)).toArray();
                routed |= steering.steerAround(slot, live);
                step(change, "steered-around");
            }
            if (attached) {
                Retirement.settle();
            }
            for (int slot : leaving) {
                members.set(slot, null);
            }
            step(change, "members-cleared");
        } catch (IOException | RuntimeException e) {
            for (int i = 0; i < leaving.length; i++) {
                members.set(leaving[i], ws.get(i));
            }
            rollBack(e, change, saved, fds);
            throw e;
        }
        // the point of no return: the sockets leave
        Worker heir = members.live().get(0);
        List<NativeFd> old = new ArrayList<>();
        IOException late = null;
        for (Worker w : ws) {
            NativeFd f = w.socket();
            boolean external = leaveListener(w, f);
            w.markRemoved(); // its calls now say "removed", not "group closed"
            int parked = w.moveParkedTo(heir); // work parked in its memory goes to the heir, never abandoned
            if (parked > 0) {
                audit.record("parked-moved", "slot", w.slot(), "heir", heir.slot(), "moved", parked);
            }
            try {
                retirement.retire(f, heir(heir), external, steering.migrates());
            } catch (NativeException e) {
                late = addTo(late, e); // the socket is closed regardless
            }
            old.add(f);
        }
        retirement.awaitReleased(old);
        late = finish(late, change, "after-commit-retired", null);
        if (routed) {
            late = finish(late, change, "after-commit-restored", () -> steering.restoreAfterRouting(change + " done"));
        }
        if (late != null) {
            throw new ReuseportException(change + " of slots " + Arrays.toString(leaving) + " of " + describe()
                    + " done (the workers left), but: " + late.getMessage(), late);
        }
    }

    Worker addWorker() throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            return addOne("add");
        } finally {
            changes.unlock();
        }
    }

    /**
     * Adds one worker: a new socket, its socket-array slot, the member, the listeners, the table. A failure
     * at any step takes all of it back (the socket leaves as a removed one would, its queue to a survivor)
     * and restores the saved table and version.
     */
    private Worker addOne(String change) throws IOException {
        int slot = members.lowestFree();
        if (slot < 0) {
            throw new IllegalStateException(describe() + " has " + ReuseportGroup.MAX_WORKERS
                    + " workers; accepted: at most " + ReuseportGroup.MAX_WORKERS);
        }
        GroupSteering.Saved saved = steering.saved(slot);
        step(change, "begin");
        int fd;
        try {
            fd = MemberSockets.open(spec);
        } catch (NativeException e) {
            throw new ReuseportException("cannot add a worker to " + describe() + ": " + e.getMessage(), e);
        }
        Worker w = new Worker(group, describe(), slot, protocol, spec.family(), fd);
        try {
            step(change, "opened");
            steering.joined(slot, fd);
            step(change, "array-set");
            members.set(slot, w);
            step(change, "member-set");
            joinListener(w);
            step(change, "listener-joined");
            steering.replan(change + " slot " + slot);
            step(change, "replanned");
        } catch (IOException | RuntimeException e) {
            undoAdds(e, change, saved, List.of(w));
            throw e;
        }
        audit.record("add-worker", "slot", slot, "workers", members.live().size(), "policy",
                steering.policy().spec());
        return w;
    }

    /** Takes back workers a failed change added: steering first (saved table and version), then their sockets. */
    private void undoAdds(Throwable failure, String change, GroupSteering.Saved saved, List<Worker> added) {
        int[] empty = new int[saved.slots().length];
        Arrays.fill(empty, -1);
        for (Worker w : added) {
            if (members.get(w.slot()) == w) {
                members.set(w.slot(), null);
            }
        }
        rollBack(failure, change, saved, empty);
        if (steering.attached()) {
            Retirement.settle();
        }
        List<NativeFd> old = new ArrayList<>();
        Worker heir = members.live().get(0);
        for (Worker w : added) {
            NativeFd f = w.socket();
            boolean external = leaveListener(w, f);
            w.markRemoved();
            try {
                retirement.retire(f, heir(heir), external, steering.migrates());
            } catch (NativeException c) {
                failure.addSuppressed(c);
            }
            old.add(f);
        }
        retirement.awaitReleased(old);
    }

    /**
     * Grows or shrinks to {@code workers}, all or nothing: when a step fails, the workers added so far leave
     * again (their queues to the survivors) and the saved table and version are back; a shrink takes its
     * workers out in one {@link #removeSlots}.
     */
    List<Worker> resize(int workers) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            ensureMembershipFree();
            List<Worker> added = new ArrayList<>();
            if (members.live().size() < workers) {
                int n = workers - members.live().size();
                int[] toBe = new int[n];
                int[] free = java.util.stream.IntStream.range(0, ReuseportGroup.MAX_WORKERS)
                        .filter(s -> members.get(s) == null).limit(n).toArray();
                System.arraycopy(free, 0, toBe, 0, free.length);
                GroupSteering.Saved saved = steering.saved(toBe);
                try {
                    while (members.live().size() < workers) {
                        added.add(addOne("resize"));
                        step("resize", "added");
                    }
                } catch (IOException | RuntimeException e) {
                    undoAdds(e, "resize", saved, added);
                    throw e;
                }
            }
            if (members.live().size() > workers) {
                List<Worker> live = members.live();
                int[] leaving = live.subList(workers, live.size()).stream().mapToInt(Worker::slot).toArray();
                removeSlots(leaving, "resize");
            }
            audit.record("resize", "workers", members.live().size(), "added", added.size());
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
            swap(all ? members.live() : List.of(worker(slot)), all ? "restart" : "replace");
        } finally {
            changes.unlock();
        }
    }

    /**
     * The next socket generation of {@code ws}. Until the first old socket leaves (the point of no return)
     * a failure takes every new socket out again (its listener loans back, its socket-array entry and the
     * table with its version restored, the socket retired into its worker) and the old ones keep serving.
     */
    private void swap(List<Worker> ws, String change) throws IOException {
        int n = ws.size();
        int[] slotsOf = ws.stream().mapToInt(Worker::slot).toArray();
        int[] oldFds = ws.stream().mapToInt(w -> w.socket().number()).toArray();
        int[] fresh = new int[n];
        Arrays.fill(fresh, -1);
        NativeFd[] next = new NativeFd[n];
        GroupSteering.Saved saved = steering.saved(slotsOf);
        boolean attached = steering.attached();
        boolean routed;
        try {
            step(change, "begin");
            for (int i = 0; i < n; i++) {
                try {
                    fresh[i] = MemberSockets.open(spec);
                } catch (NativeException e) {
                    throw new ReuseportException(change + " of " + describe() + " failed opening the next socket "
                            + "generation; the current one keeps serving: " + e.getMessage(), e);
                }
                next[i] = new NativeFd(fresh[i], false);
                step(change, "opened");
            }
            routed = steering.swapIn(slotsOf, fresh);
            step(change, "swapped-in");
            if (attached) {
                Retirement.settle();
            }
            for (int i = 0; i < n; i++) {
                joinListener(ws.get(i), next[i]); // the engine serves the new socket before the old one leaves
                step(change, "listener-joined");
            }
        } catch (IOException | RuntimeException e) {
            rollBack(e, change, saved, oldFds);
            if (attached) {
                Retirement.settle();
            }
            List<NativeFd> gone = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (next[i] == null) {
                    continue;
                }
                boolean external = leaveListener(ws.get(i), next[i]);
                try {
                    retirement.retire(next[i], heir(ws.get(i)), external, steering.migrates());
                } catch (NativeException c) {
                    e.addSuppressed(c);
                }
                gone.add(next[i]);
            }
            retirement.awaitReleased(gone);
            if (e instanceof ReuseportException) {
                throw e;
            }
            throw new ReuseportException(change + " of " + describe() + " failed and was rolled back; the current "
                    + "socket generation keeps serving: " + e.getMessage(), e);
        }
        // the point of no return: the old sockets leave
        List<NativeFd> old = new ArrayList<>();
        IOException late = null;
        for (int i = 0; i < n; i++) {
            Worker w = ws.get(i);
            NativeFd prev = w.swap(next[i]);
            boolean external = leaveListener(w, prev);
            try {
                retirement.retire(prev, heir(w), external, steering.migrates());
            } catch (NativeException e) {
                late = addTo(late, e); // closed regardless
            }
            old.add(prev);
        }
        retirement.awaitReleased(old);
        late = finish(late, change, "after-commit-retired", null);
        if (routed) {
            late = finish(late, change, "after-commit-restored", () -> steering.restoreAfterRouting(change + " done"));
        }
        restarts++;
        audit.record("restart", "slots", ws.stream().map(w -> String.valueOf(w.slot())).collect(
                Collectors.joining(",")), "migrating", steering.migrates(), "restarts", restarts);
        ReuseportEvents.restart(describe(), ws.size(), restarts);
        if (late != null) {
            throw new ReuseportException(change + " of " + describe() + " done (the new sockets serve), but: "
                    + late.getMessage(), late);
        }
    }

    /** A step of a change, where a test may inject a failure ({@link ChangeSteps}). */
    private void step(String change, String step) throws IOException {
        steps.at(change, step);
    }

    /** A step after the point of no return: a failure is kept for the report, the change goes on. */
    private IOException finish(IOException late, String change, String step, NativeStep action) {
        try {
            steps.at(change, step);
            if (action != null) {
                action.run();
            }
            return late;
        } catch (IOException | RuntimeException e) {
            audit.record("change-incomplete", "change", change, "step", step, "error", e.toString(),
                    "outcome", "completed; this step's work is left undone");
            LOG.log(System.Logger.Level.WARNING, describe() + ": " + change + " completed, but " + step + " failed: " + e);
            return addTo(late, e instanceof IOException io ? io : new IOException(e.toString(), e));
        }
    }

    /** A step that may fail natively. */
    private interface NativeStep {
        void run() throws IOException;
    }

    private static IOException addTo(IOException first, IOException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    /** Puts the steering back to {@code saved} after {@code failure}; a rollback failure is suppressed in it. */
    private void rollBack(Throwable failure, String change, GroupSteering.Saved saved, int[] fds) {
        if (fds.length == 0 && steering.tableVersion() == saved.steering().tableVersion()
                && steering.policy() == saved.policy()) {
            return; // a policy or shadow refused before it changed anything (a bad argument): nothing to undo
        }
        try {
            steering.rollback(saved, fds, change + " failed");
        } catch (NativeException | RuntimeException r) {
            failure.addSuppressed(r);
            audit.record("rollback-incomplete", "change", change, "error", r.getMessage());
        }
        audit.record("rolled-back", "change", change, "error", failure.toString(), "table_version",
                steering.tableVersion(), "workers", members.live().size());
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

    /** Whether a listener that serves traffic is attached (it then serves the workers a resize adds). */
    boolean served() {
        return servingListener() != null;
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

    /** Lends every attached listener a duplicate of {@code f}, the worker's next socket. */
    private void joinListener(Worker w, NativeFd f) throws IOException {
        for (SocketListener l : socketListeners) {
            joinListener(l, w, f);
        }
    }

    /** Lends {@code l} a duplicate of the worker's socket. */
    private void joinListener(SocketListener l, Worker w) throws IOException {
        joinListener(l, w, w.socket());
    }

    /** Lends {@code l} a duplicate of {@code f}, a socket of {@code w}. */
    private void joinListener(SocketListener l, Worker w, NativeFd f) throws IOException {
        int dup = loans.get(l).lend(f);
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
    private volatile OldSide handingOff;
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
     * Starts the old side of a hand-off ({@link OldSide}): a snapshot of the sockets (duplicates), the
     * program and the layout, taken under {@link #changes}, which is released before any byte goes to the
     * peer. On the kernel-hash policy the program then hashes over this group's own sockets until the
     * exchange ends ({@link GroupSteering#holdForHandoff}), so the standby sockets of the process taking over
     * get no new connection. Restarts, resizes, policies, the watchdog and fallbacks run while the peer
     * answers; the proof is then compared with the sockets of that moment.
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
            int[] own = ws.stream().mapToInt(w -> w.socket().number()).toArray();
            int[] all = program == null ? own : java.util.stream.IntStream.concat(Arrays.stream(own),
                    Arrays.stream(program.descriptors()).limit(SteerProgram.MAPS.size() + 1)).toArray();
            int[] fds;
            try {
                fds = OldSide.duplicates(all);
            } catch (NativeException e) {
                throw new ReuseportException("hand-off of " + describe() + " cannot duplicate its descriptors: "
                        + e.getMessage(), e);
            }
            Handoff.Layout layout = new Handoff.Layout(protocol.name(), spec.local().getAddress().getHostAddress(),
                    spec.local().getPort(), spec.backlog(), spec.receiveBuffer(), st.policy(), st.tableVersion(),
                    slots(), program == null ? null : program.program().name(), fds);
            OldSide s = new OldSide(new HandingOff(), layout, handoffsRefused, g -> GenerationDrain.start(protocol, steering, g));
            handingOff = s;
            if (steering.holdForHandoff()) {
                audit.record("handoff-hold", "slots", Arrays.toString(slots()), "outcome", "new connections hashed over "
                        + "this group's sockets only until the exchange ends");
            }
            return s;
        } finally {
            changes.unlock();
        }
    }

    /** The group as {@link OldSide} sees it. */
    private final class HandingOff implements OldSide.Group {
        @Override
        public ReentrantLock changes() {
            return changes;
        }

        @Override
        public boolean closed() {
            return closed.get();
        }

        @Override
        public String describe() {
            return GroupEngine.this.describe();
        }

        @Override
        public int[] slots() {
            return GroupEngine.this.slots();
        }

        @Override
        public int[] sockets() {
            return members.live().stream().mapToInt(w -> w.socket().number()).toArray();
        }

        @Override
        public void audit(String event, Object... kv) {
            audit.record(event, kv);
        }

        @Override
        public void holdMembership(boolean held) {
            membershipHeld = held;
        }

        @Override
        public void letGo() {
            List<Worker> ws = members.live();
            OldSide s = handingOff;
            int sent = s == null ? steering.tableVersion() : s.layout().tableVersion();
            audit.record("handoff", "workers", ws.size(), "table_version", sent, "outcome",
                    "descriptors passed and proven; letting go");
            if (steering.tableVersion() != sent) {
                audit.record("handoff-steering-changed", "sent_table_version", sent, "table_version",
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
        }

        @Override
        public void ended(OldSide session) {
            changes.lock();
            try {
                if (handingOff == session) {
                    handingOff = null;
                    steering.releaseHandoffHold("hand-off ended without letting go: back to the kernel hash");
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
