package dev.reuseport;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.internal.member.SlotTable;
import dev.reuseport.internal.steer.Steering;
import dev.reuseport.internal.steer.TablePlanner;
import dev.reuseport.sys.NativeException;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The steering half of {@link GroupEngine}: the policy in force, the shadowed one, the capability report
 * and the program ({@link Steering}), under the steering lock. That lock is held for map updates and
 * bookkeeping only, never across a sleep or another process's answer, so {@link #fallback} and the
 * getters never wait behind a membership change or a hand-off. The engine calls the steps a membership
 * change needs ({@link #steerAround}, {@link #swapIn}, {@link #restoreAfterRouting}, ...) between its own.
 */
final class GroupSteering {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final ReentrantLock lock = new ReentrantLock();
    /** How often a caller found {@link #lock} held and had to wait. */
    private final LongAdder waits = new LongAdder();
    private final String name;
    private final Protocol protocol;
    private final SlotTable<Worker> members;
    /** The live members' socket numbers, in slot order (the engine reads them off the workers). */
    private final java.util.function.Supplier<int[]> memberFds;
    private final AtomicBoolean closed;
    private final List<Feature> features;
    private final Steering steering;
    private volatile Capabilities capabilities;
    /** The policy in force; written under {@link #lock}. */
    private volatile Policy policy = Policy.kernelHash();
    /** Entries of the program's sticky flow table, 0 for the object's own (set before every load). */
    private final int flowCapacity;
    /** Fallbacks so far. */
    private final java.util.concurrent.atomic.LongAdder fallbacks = new java.util.concurrent.atomic.LongAdder();
    /** The policy being shadowed (count only), or null; under {@link #lock}. */
    private Policy shadowed;
    /** A hand-off holds new connections on this group's own sockets ({@link #holdForHandoff}); under {@link #lock}. */
    private boolean holding;

    GroupSteering(String name, Protocol protocol, SlotTable<Worker> members, java.util.function.Supplier<int[]> memberFds,
                  AtomicBoolean closed, Capabilities caps, AuditLog audit, int flowCapacity) {
        this.flowCapacity = flowCapacity;
        this.name = name;
        this.protocol = protocol;
        this.members = members;
        this.memberFds = memberFds;
        this.closed = closed;
        this.capabilities = caps;
        this.features = caps.features();
        this.steering = new Steering(audit::record);
        FallbackTexts.prepare(caps, members.slots()); // the emergency lever is ready from the group's open
    }

    /** Takes the steering lock, counting the times it was held by someone else. */
    private void lock() {
        if (!lock.tryLock()) {
            waits.increment();
            lock.lock();
        }
    }

    long waits() {
        return waits.sum();
    }

    Capabilities capabilities() {
        return capabilities;
    }

    Policy policy() {
        return policy;
    }

    int tableVersion() {
        return steering.tableVersion();
    }

    /** Whether the program is attached; stable under the engine's change lock (only changes attach or detach). */
    boolean attached() {
        return steering.attached();
    }

    boolean migrates() {
        return steering.migrates();
    }

    private void ensureOpen() throws GroupClosedException {
        if (closed.get()) {
            throw new GroupClosedException(name);
        }
    }

    /** The policy as the table planner reads it. */
    static TablePlanner.Rule rule(Policy p) {
        TablePlanner.Kind kind = p instanceof Policy.KernelHash ? TablePlanner.Kind.KERNEL_HASH
                : p instanceof Policy.RoundRobin ? TablePlanner.Kind.ROUND_ROBIN
                : p instanceof Policy.Sticky ? TablePlanner.Kind.STICKY
                : p instanceof Policy.Cpu ? TablePlanner.Kind.CPU
                : p instanceof Policy.Weighted ? TablePlanner.Kind.WEIGHTED : TablePlanner.Kind.CONSISTENT;
        return new TablePlanner.Rule(kind, p.spec(), p instanceof Policy.Weighted w ? w.weights() : new int[0]);
    }

    private TablePlanner.Plan plan(Policy p, int[] live, TablePlanner.Plan previous) throws NativeException {
        return steering.plan(rule(p), live, previous);
    }

    /** A group a hand-off delivered: takes over its program, policy and table version (under construction). */
    void adopted(SteerProgram program, Policy adoptedPolicy, int tableVersion) throws NativeException {
        steering.adopt(program, tableVersion);
        policy = adoptedPolicy;
        if (program != null && adoptedPolicy instanceof Policy.Consistent) {
            steering.plan(new TablePlanner.Plan(SteerProgram.Mode.HASH, program.table()));
        } else if (program != null && !(adoptedPolicy instanceof Policy.KernelHash)) {
            steering.plan(plan(adoptedPolicy, members.slots(), null));
        }
        capabilities = capabilities.withSteering(adoptedPolicy instanceof Policy.KernelHash ? "kernel hash"
                : "bpf " + adoptedPolicy.spec(), "taken over by hand-off at table version " + tableVersion
                + (program != null ? ", program " + program.program().name() + " kept attached" : ""));
    }

    /** Attaches the migrate program in pass mode (the kernel hash decides) for zero-loss restarts. */
    void attachForMigration() {
        lock();
        try {
            String why = enable();
            capabilities = capabilities.withSteering("kernel hash", why == null
                    ? "program " + steering.program().program().name() + " attached in pass mode: the kernel hash "
                    + "decides, queued connections migrate when a listener closes"
                    : "no program (" + why + "): restarts drain queues before closing");
        } finally {
            lock.unlock();
        }
    }

    /** Loads, fills and attaches the steering program (under {@link #lock}); null on success, else why not. */
    private String enable() {
        return steering.enable(features, capabilities.isOn(Probes.MIGRATE), members.slots(), memberFds.get(),
                flowCapacity, protocol == Protocol.UDP);
    }

    /**
     * {@link ReuseportGroup#applyPolicy(Policy)}; the engine holds its change lock. {@code since} is when
     * the caller asked ({@link System#nanoTime()}), for the change's duration.
     */
    PolicyChange policy(Policy next, long since) throws IOException {
        ensureOpen();
        int highest = members.highest();
        if (next instanceof Policy.Weighted w && w.weights().length != highest + 1) {
            throw new IllegalArgumentException("policy " + w.spec() + " names " + w.weights().length
                    + " weights; the group's slots are " + Arrays.toString(members.slots()) + "; accepted: one "
                    + "weight per slot 0.." + highest + " (" + (highest + 1) + " weights)");
        }
        lock();
        try {
            Policy previous = policy;
            switchTo(next);
            return new PolicyChange(previous, next, policy, steering.tableVersion(), capabilities,
                    java.time.Duration.ofNanos(System.nanoTime() - since));
        } finally {
            lock.unlock();
        }
    }

    /** Puts {@code next} in force (or the kernel hash, when the program cannot run); under {@link #lock}. */
    private void switchTo(Policy next) throws IOException {
        if (next instanceof Policy.KernelHash) {
            if (steering.attached()) {
                passOrHold("policy kernel-hash");
            }
            policy = next;
            steering.plan(null);
            shadowed = null;
            capabilities = capabilities.withSteering("kernel hash", steering.attached()
                    ? "policy kernel-hash: program attached in pass mode, the kernel hash decides"
                    : "policy kernel-hash: no program attached");
            return;
        }
        if (!steering.attached()) {
            String why = enable();
            if (why != null) {
                LOG.log(System.Logger.Level.WARNING, name + ": policy " + next.spec()
                        + " needs eBPF steering; staying on the kernel hash: " + why);
                policy = Policy.kernelHash();
                capabilities = capabilities.withSteering("kernel hash", "policy " + next.spec()
                        + " requested but " + why);
                return;
            }
        }
        TablePlanner.Plan p = plan(next, members.slots(), steering.plan());
        steering.publish(p, false, "policy " + next.spec(), policy.spec());
        policy = next;
        steering.plan(p);
        shadowed = null;
        ReuseportEvents.policy(name, next.spec(), steering.tableVersion());
        capabilities = capabilities.withSteering("bpf " + next.spec(), "program "
                + steering.program().program().name() + " attached" + (steering.migrates()
                && protocol == Protocol.TCP ? " (migrates queued requests on close)" : "")
                + ", table version " + steering.tableVersion());
    }

    /** {@link ReuseportGroup#shadow(Policy)}; the engine holds its change lock. */
    boolean shadow(Policy candidate) throws IOException {
        ensureOpen();
        lock();
        try {
            if (!steering.attached()) {
                String why = enable();
                if (why != null) {
                    capabilities = capabilities.withSteering("kernel hash", "shadow of " + candidate.spec()
                            + " requested but " + why);
                    return false;
                }
            }
            steering.publish(plan(candidate, members.slots(), null), true, "shadow " + candidate.spec(), policy.spec());
            policy = Policy.kernelHash();
            steering.plan(null);
            shadowed = candidate;
            capabilities = capabilities.withSteering("kernel hash", "shadowing " + candidate.spec()
                    + " (count only), table version " + steering.tableVersion());
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** How many times {@link #fallback(String)} ran (the Prometheus exposition's fallbacks counter). */
    long fallbacks() {
        return fallbacks.sum();
    }

    /** The short path: this lock alone, two map updates; never waits behind a change in progress. */
    long fallback(String reason) throws IOException {
        lock();
        try {
            ensureOpen();
            long t0 = System.nanoTime();
            long inForce = t0;
            if (steering.attached()) {
                inForce = passOrHold(FallbackTexts.why(reason));
            }
            policy = Policy.kernelHash();
            steering.plan(null);
            shadowed = null;
            capabilities = capabilities.withSteering("kernel hash", FallbackTexts.steeringReason(reason, holding));
            fallbacks.increment();
            ReuseportEvents.fallback(name, reason, steering.attached(), inForce - t0);
            return inForce;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@link ReuseportGroup#dissector(dev.reuseport.bpf.Dissector)}; the engine holds its change lock. A UDP
     * group without a program loads and attaches one (in pass mode when the policy is the kernel hash).
     */
    Capabilities dissector(dev.reuseport.bpf.Dissector next) throws IOException {
        ensureOpen();
        lock();
        try {
            if (!steering.attached()) {
                if (next.kind() == dev.reuseport.bpf.Dissector.Kind.NONE) {
                    return capabilities;
                }
                String why = enable();
                if (why != null) {
                    LOG.log(System.Logger.Level.WARNING, name + ": dissector " + next + " needs eBPF steering: " + why);
                    return capabilities = capabilities.withSteering(capabilities.steering(), "dissector " + next
                            + " requested but " + why);
                }
            }
            steering.dissector(next, "dissector " + next);
            boolean dormant = policy instanceof Policy.KernelHash && next.kind() != dev.reuseport.bpf.Dissector.Kind.NONE;
            return capabilities = capabilities.withSteering(capabilities.steering(), "dissector " + next
                    + (dormant ? " set but dormant: the kernel-hash policy (pass mode) bypasses dissectors; choose a "
                    + "table policy (consistent, sticky, ...) for it to act" : " in force") + ", working generation "
                    + steering.workingGeneration());
        } finally {
            lock.unlock();
        }
    }

    dev.reuseport.bpf.Dissector dissector() {
        return steering.dissector();
    }

    /** The steering itself, for socket generations ({@link GenerationDrain}); its methods there synchronise. */
    Steering inner() {
        return steering;
    }

    void confine(int from, int to) {
        members.confine(from, to);
    }

    java.util.Map<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> dissectorCounters()
            throws IOException {
        lock();
        try {
            ensureOpen();
            return steering.dissectorCounters();
        } finally {
            lock.unlock();
        }
    }

    List<SteerProgram.SlotCounters> counters() throws IOException {
        lock();
        try {
            ensureOpen();
            return steering.attached() ? List.of(steering.counters(members.highest() + 1)) : List.of();
        } finally {
            lock.unlock();
        }
    }

    String describeMaps() throws IOException {
        lock();
        try {
            return steering.describe(members.highest() + 1);
        } finally {
            lock.unlock();
        }
    }

    SteerProgram program() {
        lock();
        try {
            return steering.program();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Before {@code slot} leaves: steers nothing new to it, by its policy's table without it or (kernel
     * hash, shadow) a temporary table over {@code live}, and empties its socket-array slot (sticky flows
     * remembered on it re-pick). Returns whether a temporary table was published
     * ({@link #restoreAfterRouting} ends it).
     */
    boolean steerAround(int slot, int[] live) throws NativeException {
        lock();
        try {
            if (!steering.attached()) {
                return false;
            }
            boolean routed = policy instanceof Policy.KernelHash;
            TablePlanner.Plan p = plan(routed ? Policy.consistent() : policy, live, routed ? null : steering.plan());
            steering.publish(p, false, routed ? "remove slot " + slot + ": steer to the survivors"
                    : "remove slot " + slot, policy.spec());
            if (!routed) {
                steering.plan(p);
            }
            steering.clearSlot(slot);
            return routed;
        } finally {
            lock.unlock();
        }
    }

    /** A new member's socket enters the socket array (before it serves). */
    void joined(int slot, int fd) throws NativeException {
        lock();
        try {
            if (steering.attached()) {
                steering.setSlot(slot, fd);
            }
        } finally {
            lock.unlock();
        }
    }

    /** After a member joined: a table policy takes the new slot into its table. */
    void replan(String why) throws NativeException {
        lock();
        try {
            if (steering.attached() && !(policy instanceof Policy.KernelHash)) {
                TablePlanner.Plan p = plan(policy, members.slots(), steering.plan());
                steering.publish(p, false, why, policy.spec());
                steering.plan(p);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A restart's next socket generation takes over the socket-array slots; on the kernel hash a table
     * steers to it until the old sockets are gone. Returns whether that temporary table was published.
     */
    boolean swapIn(int[] slots, int[] fresh) throws NativeException {
        lock();
        try {
            if (!steering.attached()) {
                return false;
            }
            for (int i = 0; i < fresh.length; i++) {
                steering.setSlot(slots[i], fresh[i]);
            }
            if (!(policy instanceof Policy.KernelHash)) {
                return false;
            }
            // the kernel hash would still pick closing sockets: steer by the table until they are gone
            steering.publish(plan(Policy.consistent(), members.slots(), null), false,
                    "restart: steer to the new socket generation", policy.spec());
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** After a temporary routing table: the shadow that was running, or the kernel hash. */
    void restoreAfterRouting(String why) throws NativeException {
        lock();
        try {
            if (!steering.attached()) {
                return;
            }
            if (shadowed != null) {
                steering.publish(plan(shadowed, members.slots(), null), true, why + ": shadow " + shadowed.spec(),
                        policy.spec());
            } else {
                passOrHold(why + ": back to the kernel hash");
            }
        } finally {
            lock.unlock();
        }
    }

    /** PASS, or while a hand-off holds the same hash over this group's live slots only (HASH mode); under {@link #lock}. */
    private long passOrHold(String why) throws NativeException {
        if (!holding) {
            return steering.pass(why);
        }
        return steering.publish(new TablePlanner.Plan(SteerProgram.Mode.HASH, members.slots()), false,
                FallbackTexts.held(why), policy.spec());
    }

    /**
     * A hand-off begins: on the kernel-hash policy with the program attached (no shadow), new connections are
     * hashed over this group's sockets only, never to the standby sockets of the process taking over (they
     * would wait there until it serves). Returns whether it now holds.
     */
    boolean holdForHandoff() {
        lock();
        try {
            if (!steering.attached() || !(policy instanceof Policy.KernelHash) || shadowed != null || closed.get()) {
                return false;
            }
            holding = true;
            try {
                passOrHold("hand-off begins");
                return true;
            } catch (NativeException e) {
                holding = false;
                LOG.log(System.Logger.Level.WARNING, name + ": hand-off hold not published: " + e.getMessage());
                return false;
            }
        } finally {
            lock.unlock();
        }
    }

    /** The hand-off ended without letting go: the kernel hash over every member again (when still held). */
    void releaseHandoffHold(String why) {
        lock();
        try {
            boolean held = holding;
            holding = false;
            if (held && steering.attached() && policy instanceof Policy.KernelHash && shadowed == null && !closed.get()) {
                steering.pass(why);
            }
        } catch (NativeException e) {
            LOG.log(System.Logger.Level.WARNING, name + ": back to the kernel hash after the hand-off failed: "
                    + e.getMessage() + "; the program still hashes over this group's sockets");
        } finally {
            lock.unlock();
        }
    }

    /**
     * A group a hand-off delivered, its standby sockets absorbed: the old side's hold (kernel-hash policy)
     * gives way to PASS; a shadow or table is left. Also readies this process's map-update path.
     */
    void afterTakeOver() {
        lock();
        try {
            if (!steering.attached() || !(policy instanceof Policy.KernelHash) || closed.get()) {
                return;
            }
            int[] cfg = steering.program().config();
            if (cfg[0] != SteerProgram.Mode.PASS.code() && cfg[2] == 0) {
                steering.pass("taken over: back to the kernel hash over every member");
            }
        } catch (NativeException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, name + ": after the take-over, back to the kernel hash failed: "
                    + e.getMessage());
        } finally {
            lock.unlock();
        }
    }

    /** What a hand-off sends about the steering, read in one step. */
    record Snapshot(SteerProgram program, String policy, int tableVersion) {
    }

    Snapshot snapshot() {
        lock();
        try {
            return new Snapshot(steering.program(), policy.spec(), steering.tableVersion());
        } finally {
            lock.unlock();
        }
    }

    /** Closes the program here (after a hand-off or with the group). */
    void close() {
        lock();
        try {
            steering.close();
        } finally {
            lock.unlock();
        }
    }
    /** What a membership or policy change may have to put back (see {@link ChangeScript}'s undo). */
    record Saved(Steering.Saved steering, Policy policy, Policy shadowed, Capabilities capabilities, int[] slots,
                 long[] cookies) {
    }

    /** The steering now, with the socket-array entries (cookies) of {@code slots}, before a change. */
    Saved saved(int... slots) throws NativeException {
        lock();
        try {
            long[] cookies = new long[slots.length];
            for (int i = 0; i < slots.length && steering.attached(); i++) {
                cookies[i] = steering.program().slots().cookie(slots[i]);
            }
            return new Saved(steering.save(), policy, shadowed, capabilities, slots.clone(), cookies);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A failed change's rollback: each saved slot whose socket-array entry changed gets {@code fds[i]} back
     * (-1: emptied), then the table, its version, the policy and the capability report are the saved ones.
     * Every step is tried; the first failure is thrown with the others suppressed.
     */
    void rollback(Saved saved, int[] fds, String why) throws NativeException {
        lock();
        try {
            NativeException first = null;
            for (int i = 0; i < saved.slots().length && steering.attached(); i++) {
                try {
                    if (steering.program().slots().cookie(saved.slots()[i]) != saved.cookies()[i]) {
                        if (fds[i] >= 0) {
                            steering.setSlot(saved.slots()[i], fds[i]);
                        } else {
                            steering.clearSlot(saved.slots()[i]);
                        }
                    }
                } catch (NativeException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
            try {
                steering.restore(saved.steering(), why);
            } catch (NativeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
            policy = saved.policy();
            shadowed = saved.shadowed();
            capabilities = saved.capabilities();
            if (first != null) {
                throw first;
            }
        } finally {
            lock.unlock();
        }
    }
}
