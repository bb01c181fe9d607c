package dev.reuseport;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import dev.reuseport.sys.internal.Native;
import dev.reuseport.sys.internal.NativeFd;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * N sockets bound to one address and port with SO_REUSEPORT, one per worker, opened and closed as a
 * unit. The kernel spreads new connections (TCP) or flows (UDP) over the members; which member gets what
 * is the group's steering, reported by {@link #capabilities()}.
 *
 * <pre>{@code
 * try (ReuseportGroup group = ReuseportGroup.tcp().address("127.0.0.1").port(8080).workers(8).open()) {
 *     for (Worker w : group.workers()) {
 *         new Thread(() -> serve(w)).start();   // w.accept(Duration.ofSeconds(1)) ...
 *     }
 * }
 * }</pre>
 */
public final class ReuseportGroup implements AutoCloseable {
    /** The most workers a group may have (the size of the steering program's socket array). */
    public static final int MAX_WORKERS = 256;
    /** The largest backlog accepted (the kernel further caps it at net.core.somaxconn). */
    public static final int MAX_BACKLOG = 65535;
    /** The smallest explicit receive buffer accepted, in bytes. */
    public static final int MIN_RECEIVE_BUFFER = 1024;
    /** The largest explicit receive buffer accepted, in bytes. */
    public static final int MAX_RECEIVE_BUFFER = 1 << 30;

    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private final Protocol protocol;
    private final InetSocketAddress localAddress;
    private final int family;
    private final int backlog;
    private final int receiveBuffer;
    private final Object lock = new Object();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Live workers by slot id (null: free slot); replaced, never mutated, under {@link #lock}. */
    private volatile Worker[] bySlot;
    private volatile Capabilities capabilities;
    private final List<Feature> features;
    private SteerProgram program;
    private Policy policy = Policy.kernelHash();
    private TablePlanner.Plan plan;
    private int generation;
    private long restarts;
    /** The policy being shadowed (count only), or null. */
    private Policy shadowed;
    private int programId;
    private String programTag = "-";
    private volatile Controller controller;
    private final AuditLog audit;
    private final long openedNanos = System.nanoTime();
    /** The attached socket listeners (I/O engines, observers), in attach order; under {@link #lock}. */
    private final List<SocketListener> socketListeners = new ArrayList<>();
    /** Per listener, the duplicate lent for each of the group's descriptors; under {@link #lock}. */
    private final java.util.Map<SocketListener, java.util.Map<NativeFd, Integer>> lent =
            new java.util.IdentityHashMap<>();

    private ReuseportGroup(Builder b, InetSocketAddress local, int family, int[] fds, Capabilities caps) {
        this(b.protocol, local, family, b.backlog, b.receiveBuffer, IntStream.range(0, fds.length)
                .toArray(), fds, caps);
    }

    private ReuseportGroup(Protocol protocol, InetSocketAddress local, int family, int backlog, int receiveBuffer,
                           int[] slots, int[] fds, Capabilities caps) {
        this.protocol = protocol;
        this.localAddress = local;
        this.family = family;
        this.backlog = backlog;
        this.receiveBuffer = receiveBuffer;
        Worker[] ws = new Worker[MAX_WORKERS];
        for (int i = 0; i < fds.length; i++) {
            ws[slots[i]] = new Worker(this, slots[i], protocol, family, fds[i]);
        }
        this.bySlot = ws;
        this.capabilities = caps;
        this.features = caps.features();
        this.audit = new AuditLog(caps.kernelRelease(), caps.backend());
    }

    /**
     * Takes over the group served by another process's control socket at {@code control} (see
     * {@link ControlSocket}): its listener sockets, steering program and maps arrive by SCM_RIGHTS, and
     * this process accepts on the very same sockets, so nothing queued is lost; the old process then lets
     * go. If the hand-off fails, nothing is left open and, when {@code fallback} is given, a new group is
     * opened from it instead (it joins the old group's port if the old process still serves).
     *
     * <p>With a {@code fallback} on a fixed port, this process first joins the port with sockets of its
     * own (standby, outside the steering table, so a table policy sends them nothing), and only then asks
     * for the hand-off. If the old process dies at any step before the descriptors have arrived, the
     * kernel migrates what was queued on its closing listeners to the standby sockets (TCP with the
     * select-or-migrate program, or net.ipv4.tcp_migrate_req=1), the port is never without a listener,
     * and the fallback group opens on those very sockets: no connection is refused or lost. After a
     * successful hand-off the standby sockets close, their queues moved (migrated, or drained) to the
     * workers. The audit trail of the group returned says which way it went ({@code takeover} or
     * {@code takeover-fallback}).
     *
     * @param control  the old process's control socket
     * @param fallback what to open when the hand-off fails, or null to fail instead
     * @return the group taken over (with the old process's policy, generation and slot ids), or the one
     *         opened from {@code fallback}
     * @throws HandoffException when the hand-off fails and there is no fallback: refused, broken off, or a
     *                          descriptor that is not a member of the announced group
     * @throws IllegalArgumentException {@code control} is null or too long for a Unix socket address
     * @throws IOException a {@link ReuseportException} when the fallback cannot be opened either, or the
     *                     group taken over cannot be set up here
     */
    public static ReuseportGroup takeOver(java.nio.file.Path control, Builder fallback) throws IOException {
        ControlSocket.checkPath(control);
        int[] standby = fallback != null && fallback.port != 0 ? fallback.openMembers() : null;
        ReuseportGroup g;
        try {
            g = Handoff.receive(control);
        } catch (IOException e) {
            if (fallback == null) {
                throw e instanceof ReuseportException r ? r
                        : new HandoffException("hand-off from " + control + " failed: " + e.getMessage(), e);
            }
            LOG.log(System.Logger.Level.WARNING, "hand-off from " + control + " failed (" + e.getMessage()
                    + "); opening the group " + (standby != null ? "on the standby sockets" : "anew"));
            g = fallback.open(standby);
            g.audit.record("takeover-fallback", "control", control.toString(), "error", e.getMessage(),
                    "standby", standby != null ? standby.length : 0);
            return g;
        }
        g.audit.record("takeover", "control", control.toString(), "generation", g.generation(),
                "standby_closed", standby != null ? standby.length : 0);
        if (standby != null) {
            g.absorb(standby);
        }
        return g;
    }

    /**
     * Closes sockets this process held on the port while a hand-off ran; what they queued moves to the
     * workers as a leaving socket's queue does (see {@link #retire}).
     */
    private void absorb(int[] fds) {
        synchronized (lock) {
            List<Worker> ws = workers();
            for (int i = 0; i < fds.length; i++) {
                try {
                    retire(new NativeFd(fds[i], false), ws.get(i % ws.size()), false);
                } catch (NativeException e) {
                    // the socket is closed (retire closes it whatever the drain did); say what happened
                    audit.record("standby-close-failed", "fd", fds[i], "error", e.getMessage());
                    LOG.log(System.Logger.Level.WARNING, describe() + ": closing a standby socket: " + e.getMessage());
                }
            }
        }
    }

    /** The group a hand-off delivered: sockets, program and maps are already in this process. */
    static ReuseportGroup adopt(Handoff.Layout l) throws IOException {
        InetAddress address = InetAddress.getByName(l.address());
        int family = SockAddr.family(address);
        int n = l.slots().length;
        int[] sockets = Arrays.copyOf(l.fds(), n);
        for (int i = 0; i < n; i++) {
            InetSocketAddress at = Sys.localAddress(sockets[i]);
            if (at.getPort() != l.port() || Sys.getInt(sockets[i], Sys.SOL_SOCKET, Sys.SO_REUSEPORT) != 1) {
                throw new HandoffException("descriptor for slot " + l.slots()[i] + " is bound to " + at
                        + " without the group's port " + l.port() + " and SO_REUSEPORT");
            }
        }
        SteerProgram program = null;
        if (l.program() != null) {
            program = SteerProgram.adopt(l.fds()[n], l.program(), Arrays.copyOfRange(l.fds(), n + 1,
                    l.fds().length));
        }
        List<Feature> features = new ArrayList<>();
        features.add(Probes.soReuseport());
        features.addAll(Probes.steering());
        Capabilities caps = new Capabilities(Sys.kernelRelease(), Native.backendName(), Native.backendReason(),
                features, "kernel hash", "taken over by hand-off");
        ReuseportGroup g = new ReuseportGroup(l.protocol(), new InetSocketAddress(address, l.port()), family,
                l.backlog(), l.receiveBuffer(), l.slots(), sockets, caps);
        synchronized (g.lock) {
            g.program = program;
            g.policy = Policy.parse(l.policy());
            g.generation = l.generation();
            if (program != null && g.policy instanceof Policy.Consistent) {
                g.plan = new TablePlanner.Plan(SteerProgram.Mode.HASH, program.table());
            } else if (program != null && !(g.policy instanceof Policy.KernelHash)) {
                g.plan = TablePlanner.plan(g.policy, g.slots(), null, g.cpus());
            }
            g.capabilities = caps.withSteering(g.policy instanceof Policy.KernelHash ? "kernel hash"
                    : "bpf " + g.policy.spec(), "taken over by hand-off at generation " + g.generation
                    + (program != null ? ", program " + program.program().name() + " kept attached" : ""));
        }
        return g;
    }

    /** Old side of a hand-off: what the exchange with the new process does while the group is held. */
    interface Exchange {
        /** Sends the layout and descriptors; true when the peer confirmed it accepts on them. */
        boolean run(Handoff.Layout layout) throws IOException;
    }

    /** What to send once the old side has let go. */
    interface Goodbye {
        void run() throws IOException;
    }

    /**
     * Runs a hand-off exchange with the group held still (no policy or membership change meanwhile); when
     * the peer confirms, this process lets go of every descriptor (without shutting a socket down: the
     * peer shares them) and the group reads as closed here. Returns whether the group was handed off.
     */
    boolean handOff(Exchange exchange, Goodbye goodbye) throws IOException {
        synchronized (lock) {
            ensureOpen();
            List<Worker> ws = workers();
            int[] slotIds = ws.stream().mapToInt(Worker::slot).toArray();
            int extra = program == null ? 0 : SteerProgram.MAPS.size() + 1;
            int[] fds = new int[ws.size() + extra];
            for (int i = 0; i < ws.size(); i++) {
                fds[i] = ws.get(i).socket().number();
            }
            if (program != null) {
                System.arraycopy(program.descriptors(), 0, fds, ws.size(), extra);
            }
            Handoff.Layout layout = new Handoff.Layout(protocol, localAddress.getAddress().getHostAddress(),
                    localAddress.getPort(), backlog, receiveBuffer, policy.spec(), generation, slotIds,
                    program == null ? null : program.program().name(), fds);
            if (!exchange.run(layout)) {
                LOG.log(System.Logger.Level.WARNING, describe() + ": hand-off not confirmed; still serving");
                audit.record("handoff-aborted", "outcome", "still serving", "workers", ws.size());
                return false;
            }
            audit.record("handoff", "workers", ws.size(), "generation", generation, "outcome",
                    "descriptors passed; letting go");
            closed.set(true);
            for (Worker w : ws) {
                leaveListener(w, w.socket());
            }
            socketListeners.clear();
            lent.clear();
            for (Worker w : ws) {
                try {
                    w.close();
                } catch (NativeException e) {
                    LOG.log(System.Logger.Level.WARNING, "after hand-off, closing " + w + ": " + e.getMessage());
                }
            }
            if (program != null) {
                program.close();
                program = null;
            }
        }
        try {
            goodbye.run();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "hand-off goodbye not delivered: " + e.getMessage());
        }
        return true;
    }

    /**
     * Starts a group of listening TCP sockets.
     *
     * @return a builder with the defaults: address 0.0.0.0, port 0, one worker per CPU, backlog 1024, the
     *         kernel's receive buffer, the kernel hash, migration on
     */
    public static Builder tcp() {
        return new Builder(Protocol.TCP);
    }

    /**
     * Starts a group of bound UDP sockets.
     *
     * @return a builder with the defaults: address 0.0.0.0, port 0, one worker per CPU, the kernel's
     *         receive buffer, the kernel hash
     */
    public static Builder udp() {
        return new Builder(Protocol.UDP);
    }

    /**
     * What the group's sockets carry.
     *
     * @return TCP (workers accept) or UDP (workers receive and send)
     */
    public Protocol protocol() {
        return protocol;
    }

    /**
     * Where the group listens.
     *
     * @return the address and port every member is bound to (the port the kernel chose when 0 was asked
     *         for)
     */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    /**
     * The live workers. Workers added or removed later do not change the returned list.
     *
     * @return an immutable list of the live workers, in ascending slot order
     */
    public List<Worker> workers() {
        List<Worker> out = new ArrayList<>();
        for (Worker w : bySlot) {
            if (w != null) {
                out.add(w);
            }
        }
        return List.copyOf(out);
    }

    /**
     * The live slot ids.
     *
     * @return a new array of the live workers' slots, ascending
     */
    public int[] slots() {
        return workers().stream().mapToInt(Worker::slot).toArray();
    }

    /**
     * One live worker by its slot.
     *
     * @param slot the slot id
     * @return the worker in that slot
     * @throws IllegalArgumentException when no live worker has that slot; the message lists the live slots
     */
    public Worker worker(int slot) {
        Worker[] ws = bySlot;
        if (slot < 0 || slot >= ws.length || ws[slot] == null) {
            throw new IllegalArgumentException("slot " + slot + " does not exist; accepted: one of "
                    + Arrays.toString(slots()));
        }
        return ws[slot];
    }

    /**
     * What the host gives this group and how it steers; a new report after every policy change, shadow or
     * fallback.
     *
     * @return the latest capability report (immutable)
     */
    public Capabilities capabilities() {
        return capabilities;
    }

    /**
     * Every live worker's counters and kernel figures, as {@link Worker#stats()} reads them.
     *
     * @return one snapshot per live worker, in slot order
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a socket option cannot be read
     */
    public List<WorkerStats> stats() throws IOException {
        ensureOpen();
        List<WorkerStats> out = new ArrayList<>();
        for (Worker w : workers()) {
            out.add(w.stats());
        }
        return out;
    }

    /**
     * The policy in force.
     *
     * @return the policy that steers now: {@link Policy#kernelHash()} whenever the steering program is not
     *         in use, also while another policy is only shadowed
     */
    public Policy policy() {
        synchronized (lock) {
            return policy;
        }
    }

    /**
     * The policy version, recorded with every table in the program's config and in the audit trail.
     *
     * @return a number that rises by one with every table (or switch to pass mode) the program is given;
     *         0 before the first
     */
    public int generation() {
        synchronized (lock) {
            return generation;
        }
    }

    /**
     * Switches the steering policy at run time. The new table is written beside the live one and
     * switched in with a single map update, so each packet sees either the old table or the new one. A
     * policy other than the kernel hash needs the steering program: where the host cannot run it (see
     * {@link #capabilities()}), the group stays on the kernel hash and the returned report says why.
     * Switching to {@link Policy#kernelHash()} with the program attached is one map update (mode PASS).
     * If a map update fails midway, the previous table stays in force and the failure is thrown.
     *
     * @param next the policy to steer by
     * @return the capability report after the switch
     * @throws IllegalArgumentException when {@code next} is null, or a weighted policy whose weights do not
     *                                  match the group's slots (one weight per slot 0..highest)
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails (the previous table stays in force; the failure is
     *                     audited)
     */
    public Capabilities policy(Policy next) throws IOException {
        if (next == null) {
            throw new IllegalArgumentException("policy null is not a policy; accepted: " + Policy.Weighted.ACCEPTED);
        }
        synchronized (lock) {
            ensureOpen();
            if (next instanceof Policy.Weighted w && w.weights().length != highestSlot() + 1) {
                throw new IllegalArgumentException("policy " + w.spec() + " names " + w.weights().length
                        + " weights; the group's slots are " + Arrays.toString(slots()) + "; accepted: one "
                        + "weight per slot 0.." + highestSlot() + " (" + (highestSlot() + 1) + " weights)");
            }
            if (next instanceof Policy.KernelHash) {
                if (program != null) {
                    pass("policy kernel-hash");
                }
                policy = next;
                plan = null;
                shadowed = null;
                return capabilities = capabilities.withSteering("kernel hash", program != null
                        ? "policy kernel-hash: program attached in pass mode, the kernel hash decides"
                        : "policy kernel-hash: no program attached");
            }
            if (program == null) {
                String why = enableSteering();
                if (why != null) {
                    LOG.log(System.Logger.Level.WARNING, describe() + ": policy " + next.spec()
                            + " needs eBPF steering; staying on the kernel hash: " + why);
                    policy = Policy.kernelHash();
                    return capabilities = capabilities.withSteering("kernel hash", "policy " + next.spec()
                            + " requested but " + why);
                }
            }
            TablePlanner.Plan p = TablePlanner.plan(next, slots(), plan, cpus());
            publish(p, false, "policy " + next.spec());
            policy = next;
            plan = p;
            shadowed = null;
            ReuseportEvents.policy(describe(), next.spec(), generation);
            return capabilities = capabilities.withSteering("bpf " + next.spec(), "program " + program.program().name()
                    + " attached" + (program.migrates() && protocol == Protocol.TCP
                    ? " (migrates queued requests on close)" : "")
                    + ", generation " + generation);
        }
    }

    /** Attaches the migrate program in pass mode (the kernel hash decides) for zero-loss restarts. */
    private void attachForMigration() {
        synchronized (lock) {
            String why = enableSteering();
            capabilities = capabilities.withSteering("kernel hash", why == null
                    ? "program " + program.program().name() + " attached in pass mode: the kernel hash decides, "
                    + "queued connections migrate when a listener closes"
                    : "no program (" + why + "): restarts drain queues before closing");
        }
    }

    /**
     * Gives the program a new table (the next generation) and records it in the audit trail. A failed
     * map update leaves the previous table in force; that is audited and thrown.
     */
    private void publish(TablePlanner.Plan p, boolean shadow, String why) throws NativeException {
        long before = program.updates();
        try {
            program.publish(p.mode(), p.table(), shadow, generation + 1);
        } catch (NativeException | RuntimeException e) {
            audit.record("publish-failed", "reason", why, "policy", policy.spec(), "generation", generation,
                    "error", e.getMessage(), "outcome", "previous table (generation " + generation + ") stays in force");
            throw e;
        }
        generation++;
        audit.record(shadow ? "shadow" : "policy", "reason", why, "mode", p.mode().name(), "table_length",
                p.length(), "generation", generation, "program_id", programId, "program_tag", programTag,
                "map_updates", program.updates() - before);
    }

    /**
     * Mode PASS: the kernel hash decides; two map updates. Returns {@link System#nanoTime()} at the
     * moment the kernel default was in force (before any bookkeeping).
     */
    private long pass(String why) throws NativeException {
        long t0 = System.nanoTime();
        program.pass(generation + 1);
        long inForce = System.nanoTime();
        generation++;
        audit.record("pass", "reason", why, "generation", generation, "program_id", programId, "program_tag",
                programTag, "took_us", (inForce - t0) / 1000);
        return inForce;
    }

    /**
     * Writes the forensic bundle (capabilities, kernel, sysctls, policy history, audit trail, metrics,
     * steering maps) into {@code dir}, which must not exist yet. Changes nothing in the group.
     *
     * @param dir the bundle directory to create; its parent must be a writable directory
     * @return the files written, in order
     * @throws IllegalArgumentException when {@code dir} is null, exists, or cannot be created
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a file cannot be written or a figure cannot be read
     */
    public List<java.nio.file.Path> bundle(java.nio.file.Path dir) throws IOException {
        ensureOpen();
        return Bundle.write(this, dir);
    }

    /** The steering maps as text (for the bundle). */
    String describeMaps() throws IOException {
        synchronized (lock) {
            return Bundle.maps(program, highestSlot() + 1);
        }
    }

    long openedNanos() {
        return openedNanos;
    }

    /**
     * A new sampler of windowed metrics. Samplers are independent: each sample ends that sampler's window
     * only.
     *
     * @return a sampler whose first window runs from the group's opening
     */
    public MetricsSampler newSampler() {
        return new MetricsSampler(this);
    }

    /** The attached program, or null (for tests in this package). */
    SteerProgram steeringProgram() {
        synchronized (lock) {
            return program;
        }
    }

    /**
     * The group's audit trail: every policy change, restart, membership change, hand-off, refused peer
     * and failed map update.
     *
     * @return the trail, shared by everyone who records into it
     */
    public AuditLog audit() {
        return audit;
    }

    /**
     * The control state, for reports.
     *
     * @return the {@link Controller.State} name, or {@code -} when no {@link Controller} runs this group
     */
    public String controlState() {
        Controller c = controller;
        return c == null ? "-" : c.state().name();
    }

    /**
     * The controller running this group: the one last started on it and not closed.
     *
     * @return the controller, or null when none runs
     */
    public Controller controller() {
        return controller;
    }

    void controller(Controller c) {
        synchronized (lock) {
            if (c != null && controller != null && controller != c) {
                throw new IllegalStateException(describe() + " already has a controller");
            }
            controller = c;
        }
    }

    /**
     * Runs {@code candidate} in the program in count-only mode: the kernel hash still chooses, while the
     * per-slot shadow counters record what the policy would have chosen. Needs the steering program.
     * Replaces the policy in force by the kernel hash.
     *
     * @param candidate the policy to count, not the kernel hash
     * @return true when shadowing runs; false when the host cannot run the program (the report from
     *         {@link #capabilities()} says why)
     * @throws IllegalArgumentException when {@code candidate} is the kernel hash
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails (the previous table stays in force)
     */
    public boolean shadow(Policy candidate) throws IOException {
        if (candidate == null) {
            throw new IllegalArgumentException("policy null cannot be shadowed; accepted: any policy but kernel-hash");
        }
        if (candidate instanceof Policy.KernelHash) {
            throw new IllegalArgumentException("policy kernel-hash cannot be shadowed; accepted: any other policy");
        }
        synchronized (lock) {
            ensureOpen();
            if (program == null) {
                String why = enableSteering();
                if (why != null) {
                    capabilities = capabilities.withSteering("kernel hash", "shadow of " + candidate.spec()
                            + " requested but " + why);
                    return false;
                }
            }
            TablePlanner.Plan p = TablePlanner.plan(candidate, slots(), null, cpus());
            publish(p, true, "shadow " + candidate.spec());
            policy = Policy.kernelHash();
            plan = null;
            shadowed = candidate;
            capabilities = capabilities.withSteering("kernel hash", "shadowing " + candidate.spec()
                    + " (count only), generation " + generation);
            return true;
        }
    }

    /**
     * Back to the kernel default in one step (mode PASS: two map updates; nothing to do without a
     * program). Returns {@link System#nanoTime()} at the moment the kernel default was in force, so that a
     * caller can time trigger-to-default. Ends shadowing as well; the program stays attached.
     *
     * @param reason why, for the audit trail and the capability report
     * @return {@link System#nanoTime()} when the kernel default was in force
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails
     */
    public long fallback(String reason) throws IOException {
        synchronized (lock) {
            ensureOpen();
            long inForce = System.nanoTime();
            if (program != null) {
                inForce = pass("fallback: " + reason);
            }
            policy = Policy.kernelHash();
            plan = null;
            shadowed = null;
            capabilities = capabilities.withSteering("kernel hash", "fallback: " + reason);
            return inForce;
        }
    }

    /** Loads, fills and attaches the steering program; null on success, else why not. */
    private String enableSteering() {
        Feature missing = Probes.firstMissing(features);
        if (missing != null) {
            return missing.name() + " is " + missing.state() + " (" + missing.detail() + ")";
        }
        boolean migrate = capabilities.isOn(Probes.MIGRATE);
        SteerProgram p = null;
        try {
            p = SteerProgram.load(migrate);
            for (Worker w : workers()) {
                p.slots().set(w.slot(), w.socket().number());
            }
            p.pass(generation);
            p.attach(workers().get(0).socket().number());
            program = p;
            dev.reuseport.bpf.BpfProgram.Info info = p.program().info();
            programId = info.id();
            programTag = info.tag();
            audit.record("attach", "program", p.program().name(), "program_id", programId, "program_tag", programTag,
                    "migrates", p.migrates());
            return null;
        } catch (IOException | RuntimeException e) {
            if (p != null) {
                p.close();
            }
            return "loading or attaching the steering program failed: " + e.getMessage();
        }
    }

    private int cpus() throws NativeException {
        return LibBpf.possibleCpus();
    }

    /**
     * Per-slot counters of the steering program (selected, would-have-selected in shadow, migrated,
     * fallback), index = slot id; empty when no program is attached.
     *
     * @return the counters of slots 0 to the highest live slot, summed over CPUs since the program was
     *         loaded; empty without a program
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map lookup fails
     */
    public List<SteerProgram.SlotCounters> steeringCounters() throws IOException {
        synchronized (lock) {
            ensureOpen();
            if (program == null) {
                return List.of();
            }
            return List.of(program.counters(highestSlot() + 1));
        }
    }

    private int highestSlot() {
        Worker[] ws = bySlot;
        for (int i = ws.length - 1; i >= 0; i--) {
            if (ws[i] != null) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Removes the worker in {@code slot} at run time. The steering table stops naming it first (with
     * the consistent and sticky policies only its flows move, spread over the survivors), then its
     * socket closes. The last worker cannot be removed. Connections queued on the leaver migrate to a
     * survivor (select-or-migrate program) or, without it, are accepted (UDP: received) and handed to the
     * lowest-slot survivor; a thread blocked on the leaver gets {@link GroupClosedException}.
     *
     * @param slot the slot of the worker to remove
     * @throws IllegalArgumentException when no live worker has that slot
     * @throws IllegalStateException when it is the last worker
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update or the socket's close fails
     */
    public void removeWorker(int slot) throws IOException {
        synchronized (lock) {
            ensureOpen();
            Worker w = worker(slot);
            if (workers().size() == 1) {
                throw new IllegalStateException("slot " + slot + " is the last worker of " + describe()
                        + "; accepted: removing a worker while at least one other remains (close the group instead)");
            }
            Worker[] next = bySlot.clone();
            next[slot] = null;
            int[] live = Arrays.stream(next).filter(Objects::nonNull).mapToInt(Worker::slot).toArray();
            boolean routed = false;
            if (program != null) {
                // steer nothing new to the leaver before its queue is drained and it closes: its policy's
                // table without it, or (kernel hash, shadow) a temporary table over the survivors
                routed = !tablePolicy();
                TablePlanner.Plan p = TablePlanner.plan(routed ? Policy.consistent() : policy, live,
                        routed ? null : plan, cpus());
                publish(p, false, routed ? "remove slot " + slot + ": steer to the survivors" : "remove slot " + slot);
                if (!routed) {
                    plan = p;
                }
                // sticky flows remembered on the leaver now fail to select and re-pick a survivor
                program.slots().clear(slot);
                settle();
            }
            bySlot = next;
            audit.record("remove-worker", "slot", slot, "workers", workers().size(), "policy", policy.spec());
            Worker heir = workers().get(0);
            NativeFd gone = w.socket();
            boolean external = leaveListener(w, gone);
            w.markRemoved(); // issue 12: its calls now say "removed", not "group closed"
            retire(gone, heir, external);
            awaitReleased(List.of(gone));
            if (routed) {
                restoreAfterRouting("remove slot " + slot + " done");
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
     * usual microseconds from selection to queue but not a stall.
     */
    private static void settle() {
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

    private static volatile boolean settleFallbackLogged;

    /** Whether the policy in force steers by a table (as opposed to the kernel hash, possibly shadowed). */
    private boolean tablePolicy() {
        return !(policy instanceof Policy.KernelHash);
    }

    /** After a temporary routing table: the shadow that was running, or the kernel hash. */
    private void restoreAfterRouting(String why) throws NativeException {
        if (shadowed != null) {
            publish(TablePlanner.plan(shadowed, slots(), null, cpus()), true, why + ": shadow " + shadowed.spec());
        } else {
            pass(why + ": back to the kernel hash");
        }
    }

    /**
     * Adds a worker at run time in the lowest free slot, bound like the others; with a steering policy
     * it takes its share (with the consistent policy, only flows that move to it move).
     *
     * @return the new worker; start serving it (it accepts nothing by itself)
     * @throws IllegalStateException when the group already has {@link #MAX_WORKERS} workers
     * @throws GroupClosedException when the group is closed
     * @throws ReuseportException when the new socket cannot be opened or bound
     * @throws IOException when a map update fails (the worker is then closed again)
     */
    public Worker addWorker() throws IOException {
        synchronized (lock) {
            ensureOpen();
            Worker[] cur = bySlot;
            int slot = 0;
            while (slot < cur.length && cur[slot] != null) {
                slot++;
            }
            if (slot == cur.length) {
                throw new IllegalStateException(describe() + " has " + MAX_WORKERS + " workers; accepted: at most "
                        + MAX_WORKERS);
            }
            int fd;
            try {
                fd = openMember(protocol, family, localAddress, backlog, receiveBuffer);
            } catch (NativeException e) {
                throw new ReuseportException("cannot add a worker to " + describe() + ": " + e.getMessage(), e);
            }
            Worker w = new Worker(this, slot, protocol, family, fd);
            try {
                if (program != null) {
                    program.slots().set(slot, fd);
                }
                Worker[] next = cur.clone();
                next[slot] = w;
                bySlot = next;
                joinListener(w);
                audit.record("add-worker", "slot", slot, "workers", workers().size(), "policy", policy.spec());
                if (program != null && !(policy instanceof Policy.KernelHash)) {
                    TablePlanner.Plan p = TablePlanner.plan(policy, slots(), plan, cpus());
                    publish(p, false, "add slot " + slot);
                    plan = p;
                }
                return w;
            } catch (IOException | RuntimeException e) {
                bySlot = cur;
                leaveListener(w, w.socket());
                w.close();
                throw e;
            }
        }
    }

    /**
     * Replaces every worker's socket with a new one (a generation swap), losing no connection: the new
     * generation joins the group and takes over the socket-array slots before the old one closes, so no
     * new connection is steered to a closing socket; the select-or-migrate program then moves every
     * request still queued on a closing listener to the new socket in its slot, whatever
     * net.ipv4.tcp_migrate_req says. Without that program (see {@link #capabilities()}) the old accept
     * queue (UDP: receive queue) is drained into the workers before each old socket closes; connections
     * that arrive between the last drain and the close can then still be reset.
     *
     * @throws GroupClosedException when the group is closed
     * @throws ReuseportException when the next generation cannot be opened; the current one keeps serving
     * @throws IOException when a map update fails
     */
    public void restart() throws IOException {
        synchronized (lock) {
            ensureOpen();
            swap(workers());
        }
    }

    /**
     * Replaces the socket of one worker, as {@link #restart()} does for all; counts as one restart.
     *
     * @param slot the slot of the worker whose socket is replaced
     * @throws IllegalArgumentException when no live worker has that slot
     * @throws GroupClosedException when the group is closed
     * @throws ReuseportException when the new socket cannot be opened; the old one keeps serving
     * @throws IOException when a map update fails
     */
    public void replaceWorker(int slot) throws IOException {
        synchronized (lock) {
            ensureOpen();
            swap(List.of(worker(slot)));
        }
    }

    /**
     * Grows or shrinks the group to {@code workers} live workers: new ones take the lowest free slots,
     * the highest slots leave (their queued connections migrate, or are drained, to the survivors).
     *
     * @param workers the number of live workers wanted, 1..{@value #MAX_WORKERS}
     * @return the workers added (empty when shrinking), for the caller to start serving
     * @throws IllegalArgumentException when {@code workers} is out of range
     * @throws GroupClosedException when the group is closed
     * @throws IOException when adding or removing a worker fails, as {@link #addWorker()} and
     *                     {@link #removeWorker(int)} say; the workers changed before that stay changed
     */
    public List<Worker> resize(int workers) throws IOException {
        if (workers < 1 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException("workers " + workers + " is out of range; accepted: 1.." + MAX_WORKERS);
        }
        synchronized (lock) {
            ensureOpen();
            List<Worker> added = new ArrayList<>();
            while (workers().size() < workers) {
                added.add(addWorker());
            }
            while (workers().size() > workers) {
                List<Worker> live = workers();
                removeWorker(live.get(live.size() - 1).slot());
            }
            return List.copyOf(added);
        }
    }

    /**
     * Watches for stalled workers: a worker whose thread has not entered {@link Worker#accept} or
     * {@link Worker#receive} for {@code stall} while connections or datagrams wait in its socket (a dead
     * or wedged thread) is removed as {@link #removeWorker(int)} does: the steering table stops naming it,
     * and its queued connections migrate to the survivors (or are drained to them). Detection takes at
     * most {@code stall} plus one check ({@code stall / 4}); workers that never called accept or receive
     * are left alone, and so is the last worker. Every removal is audited. Close the returned handle to
     * stop watching.
     *
     * @param stall how long a worker may stay away from accept or receive while work waits, 10 ms to 1 h
     * @return the handle of the watching daemon thread ({@code reuseport-watchdog}); closing it stops the
     *         thread and throws nothing
     * @throws IllegalArgumentException when {@code stall} is null or out of range
     */
    public AutoCloseable watchdog(java.time.Duration stall) {
        if (stall == null || stall.toMillis() < 10 || stall.toMillis() > 3_600_000) {
            throw new IllegalArgumentException("stall " + stall + "; accepted: 10 ms .. 1 h");
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = new Thread(() -> {
            long limit = stall.toNanos();
            while (!stop.get() && !isClosed()) {
                try {
                    Thread.sleep(Math.max(1, stall.toMillis() / 4));
                    for (Worker w : workers()) {
                        long last = w.lastCall();
                        long idle = System.nanoTime() - last;
                        if (last != 0 && idle > limit && workers().size() > 1 && w.hasQueuedWork()) {
                            audit.record("worker-stalled", "slot", w.slot(), "idle_ms", idle / 1_000_000,
                                    "stall_ms", stall.toMillis(), "action", "removed; its queue moves to the survivors");
                            LOG.log(System.Logger.Level.WARNING, describe() + ": worker " + w.slot() + " has not "
                                    + "accepted for " + idle / 1_000_000 + " ms with work queued; removing it");
                            removeWorker(w.slot());
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    if (isClosed()) {
                        return;
                    }
                    audit.record("watchdog-error", "error", e.toString());
                }
            }
        }, "reuseport-watchdog");
        t.setDaemon(true);
        t.start();
        return () -> {
            stop.set(true);
            t.interrupt();
        };
    }

    /**
     * How many socket swaps were done.
     *
     * @return the count: each {@link #restart()} and {@link #replaceWorker(int)} counts one
     */
    public long restarts() {
        synchronized (lock) {
            return restarts;
        }
    }

    private void swap(List<Worker> ws) throws IOException {
        int[] fresh = new int[ws.size()];
        Arrays.fill(fresh, -1);
        try {
            for (int i = 0; i < fresh.length; i++) {
                fresh[i] = openMember(protocol, family, localAddress, backlog, receiveBuffer);
            }
        } catch (NativeException e) {
            for (int fd : fresh) {
                if (fd >= 0) {
                    try {
                        Sys.close(fd);
                    } catch (NativeException c) {
                        e.addSuppressed(c);
                    }
                }
            }
            throw new ReuseportException("restart of " + describe() + " failed opening the next generation; the "
                    + "current one keeps serving: " + e.getMessage(), e);
        }
        boolean routed = false;
        if (program != null) {
            for (int i = 0; i < fresh.length; i++) {
                program.slots().set(ws.get(i).slot(), fresh[i]);
            }
            if (!tablePolicy()) {
                // the kernel hash would still pick closing sockets: steer by the table until they are gone
                TablePlanner.Plan p = TablePlanner.plan(Policy.consistent(), slots(), null, cpus());
                publish(p, false, "restart: steer to the new generation");
                routed = true;
            }
            settle();
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
            retire(prev, w, external);
            old.add(prev);
        }
        awaitReleased(old);
        if (routed) {
            restoreAfterRouting("restart done");
        }
        restarts++;
        audit.record("restart", "slots", ws.stream().map(w -> String.valueOf(w.slot())).collect(
                Collectors.joining(",")), "migrating", program != null && program.migrates(),
                "restarts", restarts);
        ReuseportEvents.restart(describe(), ws.size(), restarts);
        if (notJoined != null) {
            throw new ReuseportException("restart of " + describe() + " done, but the socket listener did not take "
                    + "every new socket: " + notJoined.getMessage(), notJoined);
        }
    }

    /**
     * Closes a socket that left a worker. TCP with the migrate program: the kernel moves its queue when
     * the last reference closes. Otherwise the socket is drained into {@code heir} and closed right after,
     * in this thread: no new call may start on it, a UDP receive in flight is woken (shutdown), and once
     * the last call has let go (waiting up to four poll slices; past that the last call does what follows
     * when it ends) the queue is drained and the number closed. The callers settle (an RCU grace period,
     * see {@link #settle()}) between the steering change and this, so everything steered here is queued
     * by then. Draining while a worker thread still polls the socket would leave a window in which a
     * datagram is queued on a socket that its poller then closes unread. A TCP listener that was lent to a
     * {@link SocketListener} ({@code external}) is shut down for reading before the close, so that a
     * duplicate still open elsewhere cannot keep it in the group (see {@link SocketListener}).
     */
    private void retire(NativeFd old, Worker heir, boolean external) throws NativeException {
        boolean kernelMigrates = protocol == Protocol.TCP && program != null && program.migrates();
        if (kernelMigrates) {
            if (external && protocol == Protocol.TCP) {
                stopListening(old);
            }
            old.close();
            return;
        }
        if (!old.closeHeld()) {
            return;
        }
        NativeException wake = null;
        if (protocol == Protocol.UDP) {
            // wakes a receive blocked in poll(2) on it; a UDP socket still queues and reads after this
            try {
                Sys.shutdown(old.number(), Sys.SHUT_RD);
            } catch (NativeException e) {
                wake = e; // the close below still happens; the caller hears of it after
            }
        }
        long deadline = System.nanoTime() + 4L * Worker.POLL_SLICE_MILLIS * 1_000_000;
        boolean drained = old.finishHeld(deadline, n -> {
            if (protocol == Protocol.UDP) {
                excludeFromLookups(n);
            }
            // the caller settled after the steering change: what was steered here is queued now
            drain(n, heir);
            if (external && protocol == Protocol.TCP) {
                Sys.shutdown(n, Sys.SHUT_RD);
            }
        });
        if (!drained) {
            audit.record("drain-deferred", "heir", heir.slot(), "reason", "a call on the leaving socket did not end in "
                    + 4 * Worker.POLL_SLICE_MILLIS + " ms; that call drains and closes it when it ends");
        }
        if (wake != null) {
            throw wake;
        }
    }

    /** shutdown(SHUT_RD) on a listener: it leaves the SO_REUSEPORT group and its queue moves or resets. */
    private void stopListening(NativeFd f) throws NativeException {
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
     * Hands the group's sockets to an external I/O engine: {@code listener} is told of every socket now
     * (with {@link SocketListener#joined}, a duplicate each) and of every later change, as
     * {@link SocketListener} describes, until {@link #detach(SocketListener)} or {@link #close()}. One
     * listener that serves traffic ({@link SocketListener#servesTraffic()}, an I/O engine such as
     * {@link #serve serve}'s loops or the Netty adapter) at a time, beside any number of observers (a meter
     * binder, say). If {@code joined} fails for a socket, those already given are taken back
     * ({@code leaving}) and the failure is thrown.
     *
     * @param listener the engine to serve the sockets
     * @throws IOException           what {@code joined} threw, after the sockets given were taken back
     * @throws IllegalStateException {@code listener} is attached already, or it serves traffic and another
     *                               listener that serves traffic is attached
     * @throws GroupClosedException  the group is closed
     */
    public void attach(SocketListener listener) throws IOException {
        if (listener == null) {
            throw new IllegalArgumentException("socket listener null; accepted: a SocketListener instance");
        }
        synchronized (lock) {
            ensureOpen();
            if (socketListeners.contains(listener)) {
                throw new IllegalStateException(describe() + " already has socket listener " + listener
                        + " attached; accepted: each listener once (detach it first)");
            }
            SocketListener engine = socketListeners.stream().filter(SocketListener::servesTraffic).findFirst()
                    .orElse(null);
            if (listener.servesTraffic() && engine != null) {
                throw new IllegalStateException(describe() + " already has socket listener " + engine
                        + " serving its traffic; accepted: one traffic-serving listener at a time (detach it"
                        + " first), any number of observers (servesTraffic() false)");
            }
            socketListeners.add(listener);
            try {
                for (Worker w : workers()) {
                    joinListener(listener, w);
                }
            } catch (IOException | RuntimeException e) {
                for (Worker w : workers()) {
                    leaveListener(listener, w, w.socket());
                }
                socketListeners.remove(listener);
                lent.remove(listener);
                throw e;
            }
            audit.record("listener-attached", "listener", listener.getClass().getName(), "workers", workers().size());
        }
    }

    /**
     * Takes the sockets back from {@code listener}: {@link SocketListener#leaving} for each socket it
     * holds; the group keeps serving them itself ({@link Worker#accept}, {@link Worker#receive}). Nothing
     * happens when {@code listener} is not the one attached (or the group is closed: closing told it).
     *
     * @param listener the listener attached with {@link #attach(SocketListener)}
     */
    public void detach(SocketListener listener) {
        synchronized (lock) {
            if (listener == null || !socketListeners.contains(listener)) {
                return;
            }
            for (Worker w : workers()) {
                leaveListener(listener, w, w.socket());
            }
            socketListeners.remove(listener);
            lent.remove(listener);
            audit.record("listener-detached", "listener", listener.getClass().getName());
        }
    }

    /** Lends every attached listener a duplicate of the worker's socket. */
    private void joinListener(Worker w) throws IOException {
        for (SocketListener l : List.copyOf(socketListeners)) {
            joinListener(l, w);
        }
    }

    /** Lends {@code l} a duplicate of the worker's socket. */
    private void joinListener(SocketListener l, Worker w) throws IOException {
        NativeFd f = w.socket();
        int n = f.acquire();
        int dup;
        try {
            dup = Sys.dup(n);
        } finally {
            f.release();
        }
        lent.computeIfAbsent(l, k -> new java.util.IdentityHashMap<>()).put(f, dup);
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
        for (SocketListener l : List.copyOf(socketListeners)) {
            any |= leaveListener(l, w, f);
        }
        return any;
    }

    /** Takes {@code l}'s duplicate of {@code f} back; whether one had been lent. */
    private boolean leaveListener(SocketListener l, Worker w, NativeFd f) {
        java.util.Map<NativeFd, Integer> mine = lent.get(l);
        Integer dup = mine == null ? null : mine.remove(f);
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
            InetAddress peer = InetAddress.getByName(family == SockAddr.AF_INET6 ? "::1" : "127.0.0.1");
            Sys.connect(n, new InetSocketAddress(peer, localAddress.getPort()), family);
        } catch (NativeException | UnknownHostException e) {
            audit.record("exclude-failed", "fd", n, "error", e.getMessage());
            LOG.log(System.Logger.Level.WARNING, describe() + ": could not take a leaving socket out of lookups ("
                    + e.getMessage() + "); a datagram arriving as it closes may be lost");
        }
    }

    /**
     * Moves what is queued on leaving socket {@code n} to {@code heir}, or to the first attached listener
     * that takes hand-overs ({@link SocketListener#servesTraffic()}).
     */
    private void drain(int n, Worker heir) throws NativeException {
        SocketListener l = socketListeners.stream().filter(SocketListener::servesTraffic).findFirst().orElse(null);
        if (protocol == Protocol.TCP) {
            int c;
            while ((c = Sys.accept(n, l != null)) >= 0) {
                if (l != null) {
                    l.handedOver(heir, new Connection(c, heir.slot(), true));
                } else {
                    heir.handOver(new Connection(c, heir.slot(), false));
                }
            }
        } else {
            ByteBuffer buf = ByteBuffer.allocateDirect(65536);
            InetSocketAddress from;
            while ((from = Sys.receive(n, buf.clear(), Sys.MSG_DONTWAIT)) != null) {
                buf.flip();
                byte[] data = new byte[buf.remaining()];
                buf.get(data);
                if (l != null) {
                    l.handedOver(heir, data, from);
                } else {
                    heir.handOver(data, from);
                }
            }
        }
    }

    /** Waits (bounded) until calls in flight on the old sockets have let go and the numbers are closed. */
    private static void awaitReleased(List<NativeFd> old) {
        long deadline = System.nanoTime() + 4L * Worker.POLL_SLICE_MILLIS * 1_000_000;
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

    /**
     * Whether the group is closed here.
     *
     * @return true once {@link #close()} was called, or the group was handed off to another process
     */
    public boolean isClosed() {
        return closed.get();
    }

    void ensureOpen() throws GroupClosedException {
        if (closed.get()) {
            throw new GroupClosedException(describe());
        }
    }

    String describe() {
        return "group " + protocol + " " + format(localAddress);
    }

    static String format(InetSocketAddress a) {
        InetAddress ip = a.getAddress();
        String host = ip == null ? a.getHostString() : ip.getHostAddress();
        return (ip instanceof Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * Closes every member. Calls blocked in {@link Worker#accept} or {@link Worker#receive} return with
     * {@link GroupClosedException} within {@value Worker#POLL_SLICE_MILLIS} ms; each descriptor is
     * released once no call uses it. Idempotent. The steering program leaves with the group's last
     * member.
     *
     * @throws IOException the first failure of a socket's close (the others suppressed in it); every
     *                     socket is closed regardless
     */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        IOException first = null;
        synchronized (lock) {
            for (Worker w : workers()) {
                try {
                    if (leaveListener(w, w.socket()) && protocol == Protocol.TCP) {
                        stopListening(w.socket());
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
            lent.clear();
            if (program != null) {
                program.close(); // the program leaves with the group's last member
                program = null;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "ReuseportGroup[" + protocol + " " + format(localAddress) + ", " + workers().size() + " workers"
                + (closed.get() ? ", closed" : "") + "]";
    }

    /** One member socket: SO_REUSEPORT, SO_RCVBUF, bind, and listen for TCP; closed again on failure. */
    static int openMember(Protocol protocol, int family, InetSocketAddress bound, int backlog, int receiveBuffer)
            throws NativeException {
        int type = (protocol == Protocol.TCP ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM) | Sys.SOCK_NONBLOCK;
        int fd = Sys.socket(family, type, 0);
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            if (receiveBuffer > 0) {
                Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, receiveBuffer);
            }
            Sys.bind(fd, bound, family);
            if (protocol == Protocol.TCP) {
                Sys.listen(fd, backlog);
            }
            return fd;
        } catch (NativeException e) {
            try {
                Sys.close(fd);
            } catch (NativeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    /** Validated, named parameters for a group; {@link #open()} makes it. */
    public static final class Builder {
        private final Protocol protocol;
        private InetAddress address;
        private int port;
        private int workers = Runtime.getRuntime().availableProcessors();
        private int backlog = 1024;
        private int receiveBuffer;
        private Policy policy = Policy.kernelHash();
        private boolean migration = true;

        private Builder(Protocol protocol) {
            this.protocol = protocol;
            try {
                this.address = InetAddress.getByAddress(new byte[4]);
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }

        /**
         * The address to bind: a local interface address, or a wildcard (0.0.0.0, ::). Default 0.0.0.0.
         *
         * @param address the address; an IPv6 address makes an IPv6 group
         * @return this builder
         * @throws IllegalArgumentException when {@code address} is null
         */
        public Builder address(InetAddress address) {
            if (address == null) {
                throw new IllegalArgumentException("address null is not an address; accepted: an IPv4 or IPv6 "
                        + "address of this host, 0.0.0.0 or ::");
            }
            this.address = address;
            return this;
        }

        /**
         * The address to bind, as a literal ({@code 127.0.0.1}, {@code ::1}, {@code 0.0.0.0}, {@code ::})
         * or {@code localhost}; host names are not resolved. An IPv6 literal may be in brackets.
         *
         * @param literal the address
         * @return this builder
         * @throws IllegalArgumentException when {@code literal} is empty or not an IP literal
         */
        public Builder address(String literal) {
            if (literal == null || literal.isBlank()) {
                throw new IllegalArgumentException("address " + Shown.quote(literal) + " is empty; accepted: an IPv4 "
                        + "or IPv6 literal, 'localhost', '0.0.0.0' or '::'");
            }
            String s = literal.trim();
            if (s.startsWith("[") && s.endsWith("]")) {
                s = s.substring(1, s.length() - 1);
            }
            if (s.equalsIgnoreCase("localhost")) {
                return address(InetAddress.getLoopbackAddress());
            }
            if (!isLiteral(s)) {
                throw new IllegalArgumentException("address " + Shown.quote(literal) + " is not an IP literal; accepted: an "
                        + "IPv4 or IPv6 literal, 'localhost', '0.0.0.0' or '::'");
            }
            try {
                return address(InetAddress.getByName(s));
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("address " + Shown.quote(literal) + " is not an IP literal; accepted: an "
                        + "IPv4 or IPv6 literal, 'localhost', '0.0.0.0' or '::'", e);
            }
        }

        private static boolean isLiteral(String s) {
            if (s.indexOf(':') >= 0) {
                return s.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.' || c == '%'
                        || Character.isLetterOrDigit(c));
            }
            return s.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        }

        /**
         * The port; 0 lets the kernel pick one for the first member, which every other member then shares.
         * Default 0.
         *
         * @param port 0..65535; below 1024 needs CAP_NET_BIND_SERVICE
         * @return this builder
         * @throws IllegalArgumentException when {@code port} is out of range
         */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " is out of range; accepted: 0..65535 "
                        + "(0 lets the kernel choose)");
            }
            this.port = port;
            return this;
        }

        /**
         * The number of workers, one socket each. Default: the number of CPUs the JVM sees.
         *
         * @param workers 1..{@value ReuseportGroup#MAX_WORKERS}
         * @return this builder
         * @throws IllegalArgumentException when {@code workers} is out of range
         */
        public Builder workers(int workers) {
            if (workers < 1 || workers > MAX_WORKERS) {
                throw new IllegalArgumentException("workers " + workers + " is out of range; accepted: 1.."
                        + MAX_WORKERS);
            }
            this.workers = workers;
            return this;
        }

        /**
         * The TCP accept-queue length of each worker's socket ({@code listen(2)}'s backlog; the kernel caps
         * it at {@code net.core.somaxconn}). Ignored for UDP. Default 1024.
         *
         * @param backlog 1..{@value ReuseportGroup#MAX_BACKLOG}
         * @return this builder
         * @throws IllegalArgumentException when {@code backlog} is out of range
         */
        public Builder backlog(int backlog) {
            if (backlog < 1 || backlog > MAX_BACKLOG) {
                throw new IllegalArgumentException("backlog " + backlog + " is out of range; accepted: 1.."
                        + MAX_BACKLOG);
            }
            this.backlog = backlog;
            return this;
        }

        /**
         * SO_RCVBUF per socket in bytes: 0 keeps the kernel default, otherwise
         * {@value ReuseportGroup#MIN_RECEIVE_BUFFER}..{@value ReuseportGroup#MAX_RECEIVE_BUFFER}. The
         * kernel caps the value at {@code net.core.rmem_max}, then doubles it for its bookkeeping.
         *
         * @param bytes the receive buffer size in bytes, or 0
         * @return this builder
         * @throws IllegalArgumentException when {@code bytes} is out of range
         */
        public Builder receiveBuffer(int bytes) {
            if (bytes != 0 && (bytes < MIN_RECEIVE_BUFFER || bytes > MAX_RECEIVE_BUFFER)) {
                throw new IllegalArgumentException("receiveBuffer " + bytes + " is out of range; accepted: 0 "
                        + "(kernel default) or " + MIN_RECEIVE_BUFFER + ".." + MAX_RECEIVE_BUFFER);
            }
            this.receiveBuffer = bytes;
            return this;
        }

        /**
         * The steering policy (default {@link Policy#kernelHash()}). A policy the host cannot run leaves
         * the group on the kernel hash; {@link ReuseportGroup#capabilities()} then says why.
         *
         * @param policy the policy to steer by once the group is open
         * @return this builder
         * @throws IllegalArgumentException when {@code policy} is null
         */
        public Builder policy(Policy policy) {
            if (policy == null) {
                throw new IllegalArgumentException("policy null is not a policy; accepted: "
                        + Policy.Weighted.ACCEPTED);
            }
            this.policy = policy;
            return this;
        }

        /**
         * Whether a TCP group on the kernel hash still attaches the select-or-migrate program (in pass
         * mode: the kernel hash decides) so that restarts, resizes and removals lose no queued
         * connection. Default true; it needs the SELECT_OR_MIGRATE feature and is skipped without it.
         *
         * @param migration whether to attach the migrate program for the kernel hash
         * @return this builder
         */
        public Builder migration(boolean migration) {
            this.migration = migration;
            return this;
        }

        /**
         * Binds every member with SO_REUSEPORT (and listens, for TCP). On any failure every socket made so
         * far is closed before the exception leaves. Probes the host's capabilities (see
         * {@link ReuseportGroup#capabilities()}) and applies the policy.
         *
         * @return the open group, which the caller closes
         * @throws AddressInUseException        the port is held by a socket without SO_REUSEPORT or of
         *                                      another user
         * @throws AddressNotAvailableException the address is not local, or its family is absent here
         * @throws ReuseportException           any other refusal, naming the call and the errno
         */
        public ReuseportGroup open() throws ReuseportException {
            return open(null);
        }

        /**
         * Opens the workers' sockets, bound and listening, joined to the port's reuseport group (with port
         * 0 the first one's port for all); {@link #takeOver} holds them while a hand-off runs. Closes what
         * it opened when one fails.
         */
        int[] openMembers() throws ReuseportException {
            int family = SockAddr.family(address);
            int[] fds = new int[workers];
            Arrays.fill(fds, -1);
            InetSocketAddress bound = new InetSocketAddress(address, port);
            try {
                for (int i = 0; i < workers; i++) {
                    fds[i] = openMember(protocol, family, bound, backlog, receiveBuffer);
                    if (i == 0) {
                        bound = new InetSocketAddress(address, Sys.localAddress(fds[0]).getPort());
                    }
                }
                return fds;
            } catch (NativeException e) {
                closeAll(fds, e);
                throw translate(e, bound);
            }
        }

        /** Opens the group, its workers on {@code members} (from {@link #openMembers()}) when given. */
        ReuseportGroup open(int[] members) throws ReuseportException {
            int family = SockAddr.family(address);
            int[] fds = members != null ? members : openMembers();
            InetSocketAddress bound = new InetSocketAddress(address, port);
            try {
                bound = new InetSocketAddress(address, Sys.localAddress(fds[0]).getPort());
                List<Feature> features = new ArrayList<>();
                features.add(Probes.soReuseport());
                features.addAll(Probes.steering());
                Capabilities caps = new Capabilities(Sys.kernelRelease(), Native.backendName(),
                        Native.backendReason(), features, "kernel hash", "no steering policy requested");
                ReuseportGroup group = new ReuseportGroup(this, bound, family, fds, caps);
                if (policy instanceof Policy.KernelHash && protocol == Protocol.TCP && migration
                        && caps.isOn(Probes.MIGRATE)) {
                    group.attachForMigration();
                } else if (!(policy instanceof Policy.KernelHash)) {
                    try {
                        group.policy(policy);
                    } catch (IOException | RuntimeException e) {
                        try {
                            group.close();
                        } catch (IOException c) {
                            e.addSuppressed(c);
                        }
                        throw new ReuseportException("cannot apply policy " + policy.spec() + " to "
                                + group.describe() + ": " + e.getMessage(), e);
                    }
                }
                return group;
            } catch (NativeException e) {
                closeAll(fds, e);
                throw translate(e, bound);
            } catch (RuntimeException | Error e) {
                closeAll(fds, e);
                throw e;
            }
        }

        private static void closeAll(int[] fds, Throwable failure) {
            for (int fd : fds) {
                if (fd >= 0) {
                    try {
                        Sys.close(fd);
                    } catch (NativeException c) {
                        failure.addSuppressed(c);
                    }
                }
            }
        }

        private ReuseportException translate(NativeException e, InetSocketAddress bound) {
            String where = format(bound);
            boolean v6 = address instanceof Inet6Address;
            if (e.is(Errno.EADDRINUSE)) {
                return new AddressInUseException(protocol + " " + where + " is held by a socket without SO_REUSEPORT "
                        + "or of another user (" + e.getMessage() + "); accepted: a free port, or one whose "
                        + "holders all set SO_REUSEPORT under uid " + Sys.uid(), e);
            }
            if (e.is(Errno.EAFNOSUPPORT) || (v6 && e.is(Errno.EADDRNOTAVAIL) && !ipv6Configured())) {
                return new AddressNotAvailableException("address " + address.getHostAddress() + " is IPv6 but this "
                        + "host has no IPv6 (" + e.getMessage() + "); accepted: an IPv4 address, or enable IPv6", e);
            }
            if (e.is(Errno.EADDRNOTAVAIL)) {
                return new AddressNotAvailableException("address " + address.getHostAddress() + " is not assigned "
                        + "to this host (" + e.getMessage() + "); accepted: an address of a local interface, "
                        + "0.0.0.0 or ::", e);
            }
            if (e.is(Errno.EACCES) && bound.getPort() < 1024) {
                return new ReuseportException("port " + bound.getPort() + " is privileged (" + e.getMessage()
                        + "); accepted: 1024..65535, or grant CAP_NET_BIND_SERVICE", e);
            }
            if (e.is(Errno.EMFILE) || e.is(Errno.ENFILE)) {
                return new ReuseportException("out of file descriptors opening " + workers + " workers on " + where
                        + " (" + e.getMessage() + "); raise RLIMIT_NOFILE or open fewer workers", e);
            }
            return new ReuseportException("cannot open " + protocol + " group on " + where + ": " + e.getMessage(), e);
        }

        /** Whether any interface has an IPv6 address (a file of procfs, so its size reads 0: read it). */
        private static boolean ipv6Configured() {
            try {
                return !java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/if_inet6")).isEmpty();
            } catch (IOException e) {
                return false;
            }
        }
    }

    // --- serving loop (issue 12): facade methods; self-contained, re-apply onto a restructured class ---

    /**
     * Serves this TCP group with the library's own event loops: one epoll loop per worker accepts in
     * batches without blocking and hands each connection, once its first bytes arrived, to {@code handler}
     * on {@code executor}. Serving follows membership by itself (see {@link Serving}): added workers are
     * served at once, removed ones stop after their queue went to the others, restarts and hand-offs drain.
     * Virtual threads work: {@code Executors.newVirtualThreadPerTaskExecutor()} never pins a carrier, as
     * {@link ServedConnection} waits in Java, not in native calls.
     *
     * @param handler  serves one connection; its failures are logged and counted
     * @param executor runs the handlers; a rejection is logged and counted (the connection is closed)
     * @return the serving handle; close it (or the group) to stop
     * @throws IllegalArgumentException {@code handler} or {@code executor} is null
     * @throws UnsupportedOperationException this is a UDP group (use {@link #serveDatagrams(DatagramHandler)})
     * @throws IllegalStateException    the group is served already (by {@code serve} or another I/O engine)
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created (epoll_create1, eventfd)
     */
    public Serving serve(ConnectionHandler handler, Executor executor) throws IOException {
        return serve(handler, executor, Serving.DEFAULT_DRAIN);
    }

    /**
     * As {@link #serve(ConnectionHandler, Executor)}, with the time a retiring loop (a removed worker, a
     * closed or handed-off group, {@link Serving#close()}) gives its connections to finish before closing
     * them.
     *
     * @param handler  serves one connection
     * @param executor runs the handlers
     * @param drain    how long connections in flight may finish when their loop retires; zero or more
     * @return the serving handle
     * @throws IllegalArgumentException a null argument or a negative drain
     * @throws UnsupportedOperationException this is a UDP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serve(ConnectionHandler handler, Executor executor, Duration drain) throws IOException {
        requireServe(handler, "handler", "a ConnectionHandler", Protocol.TCP, "serveDatagrams");
        if (executor == null) {
            throw new IllegalArgumentException("executor null; accepted: an Executor, e.g. "
                    + "Executors.newVirtualThreadPerTaskExecutor() or a thread pool");
        }
        return Serving.streams(this, handler, executor, requireDrain(drain));
    }

    /**
     * Serves this UDP group with the library's own event loops, calling {@code handler} inline on each
     * worker's loop for every datagram (keep it short and non-blocking; use
     * {@link #serveDatagrams(DatagramHandler, Executor)} otherwise). Membership is followed as for
     * {@link #serve(ConnectionHandler, Executor)}; datagrams drained from a leaving socket go to the heir.
     *
     * @param handler answers one datagram; its failures are logged and counted
     * @return the serving handle
     * @throws IllegalArgumentException {@code handler} is null
     * @throws UnsupportedOperationException this is a TCP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serveDatagrams(DatagramHandler handler) throws IOException {
        requireServe(handler, "handler", "a DatagramHandler", Protocol.UDP, "serve");
        return Serving.datagrams(this, handler, null, Serving.DEFAULT_DRAIN);
    }

    /**
     * As {@link #serveDatagrams(DatagramHandler)}, running the handler on {@code executor}.
     *
     * @param handler  answers one datagram
     * @param executor runs the handlers; a rejection drops the datagram (logged and counted)
     * @return the serving handle
     * @throws IllegalArgumentException a null argument
     * @throws UnsupportedOperationException this is a TCP group
     * @throws IllegalStateException    the group is served already
     * @throws GroupClosedException     the group is closed
     * @throws IOException              a loop could not be created
     */
    public Serving serveDatagrams(DatagramHandler handler, Executor executor) throws IOException {
        requireServe(handler, "handler", "a DatagramHandler", Protocol.UDP, "serve");
        if (executor == null) {
            throw new IllegalArgumentException("executor null; accepted: an Executor (or serveDatagrams(handler) to "
                    + "run the handler on the loop)");
        }
        return Serving.datagrams(this, handler, executor, Serving.DEFAULT_DRAIN);
    }

    private void requireServe(Object handler, String what, String accepted, Protocol wanted, String other) {
        if (handler == null) {
            throw new IllegalArgumentException(what + " null; accepted: " + accepted);
        }
        if (protocol != wanted) {
            throw new UnsupportedOperationException(describe() + " is " + protocol + "; serving it needs " + other
                    + "(...)");
        }
    }

    private static Duration requireDrain(Duration drain) {
        if (drain == null || drain.isNegative()) {
            throw new IllegalArgumentException("drain " + drain + " is not a duration; accepted: zero or more");
        }
        return drain;
    }

    // --- end serving loop ---
}
