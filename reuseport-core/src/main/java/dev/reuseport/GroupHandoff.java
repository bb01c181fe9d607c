package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.handoff.OldSide;
import dev.reuseport.internal.member.GroupSpec;
import dev.reuseport.internal.member.SlotTable;
import dev.reuseport.sys.NativeException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.stream.IntStream;

/**
 * The group's part in handing itself off to another process, the old side: it starts the session
 * ({@link OldSide}) with a snapshot of the group, and is the group as that session sees it while the peer
 * answers ({@link OldSide.Group}): the sockets of the moment for the proof, the membership hold between a
 * matched proof and the peer's {@code serving}, the audit, and letting go once the peer serves. At most one
 * session at a time. {@link GroupEngine} owns the parts it works on (the change lock, the closed flag, the
 * members, the steering, the listener loans) and calls {@link #start()} under its change lock; this class
 * never refers to the engine.
 */
final class GroupHandoff implements OldSide.Group {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final ReentrantLock changes;
    private final AtomicBoolean closed;
    private final String group;
    private final Protocol protocol;
    private final GroupSpec spec;
    private final SlotTable<Worker> members;
    /** The live members' socket numbers, in slot order (the engine reads them off the workers). */
    private final Supplier<int[]> memberFds;
    private final AuditLog audit;
    private final GroupSteering steering;
    private final ListenerLoans listeners;
    /** Hand-off confirmations refused for want of proof (wrong, missing or stale cookies). */
    private final AtomicLong refused = new AtomicLong();
    /** The hand-off session running, or null; written under {@link #changes}. */
    private volatile OldSide handingOff;
    /** Set once a hand-off's proof matched, until it let go or broke off: membership changes fail fast. */
    private volatile boolean membershipHeld;

    /**
     * The hand-off part of a group whose parts these are (all shared with its engine).
     *
     * @param changes   the engine's change lock
     * @param closed    the group's closed flag (set here on letting go)
     * @param group     the group's name, for messages
     * @param protocol  the group's protocol, for the layout
     * @param spec      what every member socket is, for the layout
     * @param members   the slot table
     * @param memberFds the live members' socket numbers, in slot order
     * @param audit     the group's trail
     * @param steering  the group's steering half
     * @param listeners the group's listener loans
     */
    GroupHandoff(ReentrantLock changes, AtomicBoolean closed, String group, Protocol protocol, GroupSpec spec,
                 SlotTable<Worker> members, Supplier<int[]> memberFds, AuditLog audit, GroupSteering steering,
                 ListenerLoans listeners) {
        this.changes = changes;
        this.closed = closed;
        this.group = group;
        this.protocol = protocol;
        this.spec = spec;
        this.members = members;
        this.memberFds = memberFds;
        this.audit = audit;
        this.steering = steering;
        this.listeners = listeners;
    }

    /** Confirmations refused for want of proof so far. */
    long refused() {
        return refused.get();
    }

    /** Membership changes refuse at once (never wait) while a proven hand-off completes. */
    void ensureMembershipFree() {
        if (membershipHeld) {
            throw new IllegalStateException(group + " is being handed off to another process (its proof "
                    + "matched; it completes or breaks off within its deadline); accepted: retry after the hand-off");
        }
    }

    /**
     * Starts the old side of a hand-off ({@link OldSide}): a snapshot of the sockets (duplicates), the
     * program and the layout, taken under {@link #changes} (the engine holds it), which is released before
     * any byte goes to the peer. On the kernel-hash policy the program then hashes over this group's own
     * sockets until the exchange ends ({@link GroupSteering#holdForHandoff}), so the standby sockets of the
     * process taking over get no new connection. Restarts, resizes, policies, the watchdog and fallbacks run
     * while the peer answers; the proof is then compared with the sockets of that moment.
     */
    Handoff.Session start() throws ReuseportException {
        if (handingOff != null) {
            throw new IllegalStateException(group + " is already being handed off; accepted: one hand-off at a "
                    + "time");
        }
        GroupSteering.Snapshot st = steering.snapshot();
        SteerProgram program = st.program();
        int[] own = memberFds.get();
        int[] all = program == null ? own : IntStream.concat(Arrays.stream(own),
                Arrays.stream(program.descriptors()).limit(SteerProgram.MAPS.size() + 1)).toArray();
        int[] fds;
        try {
            fds = OldSide.duplicates(all);
        } catch (NativeException e) {
            throw new ReuseportException("hand-off of " + group + " cannot duplicate its descriptors: "
                    + e.getMessage(), e);
        }
        Handoff.Layout layout = new Handoff.Layout(protocol.name(), spec.local().getAddress().getHostAddress(),
                spec.local().getPort(), spec.backlog(), spec.receiveBuffer(), st.policy(), st.tableVersion(),
                slots(), program == null ? null : program.program().name(), fds);
        OldSide s = new OldSide(this, layout, refused, g -> GenerationDrain.start(protocol, steering, g));
        handingOff = s;
        if (steering.holdForHandoff()) {
            audit.record("handoff-hold", "slots", Arrays.toString(slots()), "outcome", "new connections hashed over "
                    + "this group's sockets only until the exchange ends");
        }
        return s;
    }

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
        return group;
    }

    @Override
    public int[] slots() {
        return members.slots();
    }

    @Override
    public int[] sockets() {
        return memberFds.get();
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
            listeners.leave(w);
        }
        listeners.clear();
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
