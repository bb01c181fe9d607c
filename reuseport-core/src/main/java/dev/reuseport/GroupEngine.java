package dev.reuseport;

import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.member.ChangeSteps;
import dev.reuseport.internal.member.GroupSpec;
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
 * <p>Its parts, each over state it shares with the engine and none referring back to it:
 * {@link GroupSteering} (the steering half), {@link ListenerLoans} (the socket listeners and the duplicates
 * lent to them), {@link ChangeScript} (a change's named steps, its after-commit steps and its undo) and
 * {@link GroupHandoff} (the old side of a hand-off to another process).
 *
 * <p>Two locks. {@link #changes} lets one membership or policy change run at a time; it may be held
 * across an RCU grace period and a drain, never across a hand-off's exchange with the peer. The steering lock
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
    /** Socket generations swapped in; written under {@link #changes}. */
    private volatile long restarts;
    /** The attached socket listeners and the duplicates lent to each; written under {@link #changes}. */
    private final ListenerLoans listeners;
    /** The old side of a hand-off to another process: the session running and the membership hold. */
    private final GroupHandoff handoff;
    /** The steps, after-commit steps and undo every change runs on (a test's fault injection in its steps). */
    private final ChangeScript script;

    GroupEngine(ReuseportGroup group, Protocol protocol, GroupSpec spec, int[] slots, int[] fds, Capabilities caps) {
        this.group = group;
        this.protocol = protocol;
        this.spec = spec;
        for (int i = 0; i < fds.length; i++) {
            members.set(slots[i], new Worker(group, describe(), slots[i], protocol, spec.family(), fds[i]));
        }
        this.audit = new AuditLog(caps.kernelRelease(), caps.backend());
        java.util.function.Supplier<int[]> memberFds = () -> members.live().stream().mapToInt(w -> w.socket().number())
                .toArray();
        this.steering = new GroupSteering(describe(), protocol, members, memberFds, closed, caps, audit,
                spec.flowCapacity());
        this.retirement = new Retirement(spec, audit::record, describe(), Worker.POLL_SLICE_MILLIS);
        this.listeners = new ListenerLoans(describe(), audit);
        this.script = new ChangeScript(describe(), spec.steps() == null ? ChangeSteps.NONE : spec.steps(), audit,
                steering, members, listeners, retirement);
        this.handoff = new GroupHandoff(changes, closed, describe(), protocol, spec, members, memberFds, audit,
                steering, listeners);
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
                script.step("policy", "begin");
                PolicyChange c = steering.policy(next, since);
                script.step("policy", "published");
                return c;
            } catch (IOException | RuntimeException e) {
                script.rollBack(e, "policy", saved, new int[0]);
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
                script.step("shadow", "begin");
                boolean on = steering.shadow(candidate);
                script.step("shadow", "published");
                return on;
            } catch (IOException | RuntimeException e) {
                script.rollBack(e, "shadow", saved, new int[0]);
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
            handoff.ensureMembershipFree();
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
            script.step(change, "begin");
            java.util.Set<Integer> gone = new java.util.HashSet<>();
            for (int slot : leaving) {
                gone.add(slot);
                int[] live = Arrays.stream(slots()).filter(s -> !gone.contains(s)).toArray();
                routed |= steering.steerAround(slot, live);
                script.step(change, "steered-around");
            }
            if (attached) {
                Retirement.settle();
            }
            for (int slot : leaving) {
                members.set(slot, null);
            }
            script.step(change, "members-cleared");
        } catch (IOException | RuntimeException e) {
            for (int i = 0; i < leaving.length; i++) {
                members.set(leaving[i], ws.get(i));
            }
            script.rollBack(e, change, saved, fds);
            throw e;
        }
        // the point of no return: the sockets leave
        Worker heir = members.live().get(0);
        List<NativeFd> old = new ArrayList<>();
        IOException late = null;
        for (Worker w : ws) {
            NativeFd f = w.socket();
            boolean external = listeners.leave(w, f);
            w.markRemoved(); // its calls now say "removed", not "group closed"
            int parked = w.moveParkedTo(heir); // work parked in its memory goes to the heir, never abandoned
            if (parked > 0) {
                audit.record("parked-moved", "slot", w.slot(), "heir", heir.slot(), "moved", parked);
            }
            try {
                retirement.retire(f, listeners.heir(heir), external, steering.migrates());
            } catch (NativeException e) {
                late = ChangeScript.addTo(late, e); // the socket is closed regardless
            }
            old.add(f);
        }
        retirement.awaitReleased(old);
        late = script.finish(late, change, "after-commit-retired", null);
        if (routed) {
            late = script.finish(late, change, "after-commit-restored",
                    () -> steering.restoreAfterRouting(change + " done"));
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
            handoff.ensureMembershipFree();
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
        script.step(change, "begin");
        int fd;
        try {
            fd = MemberSockets.open(spec);
        } catch (NativeException e) {
            throw new ReuseportException("cannot add a worker to " + describe() + ": " + e.getMessage(), e);
        }
        Worker w = new Worker(group, describe(), slot, protocol, spec.family(), fd);
        try {
            script.step(change, "opened");
            steering.joined(slot, fd);
            script.step(change, "array-set");
            members.set(slot, w);
            script.step(change, "member-set");
            listeners.join(w);
            script.step(change, "listener-joined");
            steering.replan(change + " slot " + slot);
            script.step(change, "replanned");
        } catch (IOException | RuntimeException e) {
            script.undoAdds(e, change, saved, List.of(w));
            throw e;
        }
        audit.record("add-worker", "slot", slot, "workers", members.live().size(), "policy",
                steering.policy().spec());
        return w;
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
            handoff.ensureMembershipFree();
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
                        script.step("resize", "added");
                    }
                } catch (IOException | RuntimeException e) {
                    script.undoAdds(e, "resize", saved, added);
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
            handoff.ensureMembershipFree();
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
            script.step(change, "begin");
            for (int i = 0; i < n; i++) {
                try {
                    fresh[i] = MemberSockets.open(spec);
                } catch (NativeException e) {
                    throw new ReuseportException(change + " of " + describe() + " failed opening the next socket "
                            + "generation; the current one keeps serving: " + e.getMessage(), e);
                }
                next[i] = new NativeFd(fresh[i], false);
                script.step(change, "opened");
            }
            routed = steering.swapIn(slotsOf, fresh);
            script.step(change, "swapped-in");
            if (attached) {
                Retirement.settle();
            }
            for (int i = 0; i < n; i++) {
                listeners.join(ws.get(i), next[i]); // the engine serves the new socket before the old one leaves
                script.step(change, "listener-joined");
            }
        } catch (IOException | RuntimeException e) {
            script.undoSwap(e, change, saved, oldFds, attached, ws, next);
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
            boolean external = listeners.leave(w, prev);
            try {
                retirement.retire(prev, listeners.heir(w), external, steering.migrates());
            } catch (NativeException e) {
                late = ChangeScript.addTo(late, e); // closed regardless
            }
            old.add(prev);
        }
        retirement.awaitReleased(old);
        late = script.finish(late, change, "after-commit-retired", null);
        if (routed) {
            late = script.finish(late, change, "after-commit-restored",
                    () -> steering.restoreAfterRouting(change + " done"));
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

    /** Closes sockets this process held on the port while a hand-off ran; their queues move to the workers. */
    void absorb(int[] fds) {
        changes.lock();
        try {
            List<Worker> ws = members.live();
            for (int i = 0; i < fds.length; i++) {
                try {
                    retirement.retire(new NativeFd(fds[i], false), listeners.heir(ws.get(i % ws.size())), false,
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

    /** Lends {@code listener} every socket now and each later one ({@link ListenerLoans#attach}). */
    void attach(SocketListener listener) throws IOException {
        changes.lock();
        try {
            ensureOpen();
            listeners.attach(listener, members.live());
        } finally {
            changes.unlock();
        }
    }

    void detach(SocketListener listener) {
        changes.lock();
        try {
            listeners.detach(listener, members.live());
        } finally {
            changes.unlock();
        }
    }

    /** Whether a listener that serves traffic is attached (it then serves the workers a resize adds). */
    boolean served() {
        return listeners.served();
    }

    /** Confirmations of a hand-off refused for want of proof (wrong, missing or stale cookies). */
    long handoffsRefused() {
        return handoff.refused();
    }

    /**
     * Starts the old side of a hand-off ({@link GroupHandoff#start}) under {@link #changes}, which is released
     * before any byte goes to the peer.
     */
    Handoff.Session handOff() throws IOException {
        changes.lock();
        try {
            ensureOpen();
            return handoff.start();
        } finally {
            changes.unlock();
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
                    if (listeners.leave(w) && protocol == Protocol.TCP) {
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
            listeners.clear();
            steering.close(); // the program leaves with the group's last member
        } finally {
            changes.unlock();
        }
        if (first != null) {
            throw first;
        }
    }
}
