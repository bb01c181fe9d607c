package dev.reuseport;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.member.GroupSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * N sockets bound to one address and port with SO_REUSEPORT, one per worker, opened and closed as a
 * unit. The kernel spreads new connections (TCP) or flows (UDP) over the members; which member gets what
 * is the group's steering, reported by {@link #capabilities()}.
 *
 * <pre>{@code
 * try (ReuseportGroup group = ReuseportGroup.tcp().address("127.0.0.1").port(8080).workers(8).open();
 *      Serving serving = group.serve(connection -> {        // one event loop per worker, following resizes
 *          ByteBuffer buf = ByteBuffer.allocate(4096);
 *          while (connection.read(buf) > 0) {               // echo until the peer closes
 *              buf.flip();
 *              connection.write(buf);
 *              buf.clear();
 *          }
 *      }, Executors.newCachedThreadPool())) {
 *     group.applyPolicy(Policy.consistent());               // the PolicyChange says what is in force now
 * }
 * }</pre>
 * Threads of its own may instead call {@link Worker#accept} or {@link Worker#receive} on each of
 * {@link #workers()}; workers added later ({@link #resize}, {@link #addWorker()}) then need a thread each.
 */
public final class ReuseportGroup extends GroupDissectors implements AutoCloseable {
    /** The most workers a group may have (the size of the steering program's socket array). */
    public static final int MAX_WORKERS = 256;
    /** The largest backlog accepted (the kernel further caps it at net.core.somaxconn). */
    public static final int MAX_BACKLOG = 65535;
    /** The smallest explicit receive buffer accepted, in bytes. */
    public static final int MIN_RECEIVE_BUFFER = 1024;
    /** The largest explicit receive buffer accepted, in bytes. */
    public static final int MAX_RECEIVE_BUFFER = 1 << 30;

    /** Orders every change; this class checks arguments and makes one call to it. */
    private final GroupEngine engine;
    private final AtomicReference<Controller> controller = new AtomicReference<>();
    private final long openedNanos = System.nanoTime();

    ReuseportGroup(Protocol protocol, GroupSpec spec, int[] slots, int[] fds, Capabilities caps) {
        this.engine = new GroupEngine(this, protocol, spec, slots, fds, caps);
        ReuseportEvents.track(this);
    }

    @Override
    GroupEngine engine() {
        return engine;
    }

    /** How many times {@link #fallback(String)} ran (the Prometheus exposition's counter). */
    long fallbacks() {
        return engine.steering().fallbacks();
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
     * <p><b>Socket generations.</b> A UDP group whose dissector keeps state (QUIC, offset cookie, flow) under
     * a table policy is taken over onto this process's <em>own</em> sockets, a new socket generation beside the
     * old one, while the old process {@link #draining() drains} (audit: {@code takeover-generation}); the
     * system property {@code reuseport.generations=off} passes the sockets instead, as for TCP.
     *
     * @param control  the old process's control socket
     * @param fallback what to open when the hand-off fails, or null to fail instead
     * @return the group taken over (with the old process's policy, table version and slot ids), or the one
     *         opened from {@code fallback}
     * @throws HandoffException when the hand-off fails and there is no fallback: refused, broken off, or a
     *                          descriptor that is not a member of the announced group
     * @throws IllegalArgumentException {@code control} is null or too long for a Unix socket address
     * @throws IOException a {@link ReuseportException} when the fallback cannot be opened either, or the
     *                     group taken over cannot be set up here
     */
    public static ReuseportGroup takeOver(java.nio.file.Path control, Builder fallback) throws IOException {
        return GroupOpening.takeOver(control, fallback, ReuseportEvents.HANDOFF);
    }

    /** The steering program (with its maps) for {@link Systemd#store}, or null on the kernel hash alone. */
    SteerProgram storedSteering() {
        return engine.steering().snapshot().program();
    }

    /** Old side of a hand-off (the control socket's {@code handoff} command), see {@link Handoff#send}. */
    Handoff.Session handOff() throws IOException {
        return engine.handOff();
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
        return engine.protocol();
    }

    /**
     * Where the group listens.
     *
     * @return the address and port every member is bound to (the port the kernel chose when 0 was asked
     *         for)
     */
    public InetSocketAddress localAddress() {
        return engine.localAddress();
    }

    /**
     * The live workers. Workers added or removed later do not change the returned list.
     *
     * @return an immutable list of the live workers, in ascending slot order
     */
    public List<Worker> workers() {
        return engine.workers();
    }

    /**
     * The live slot ids.
     *
     * @return a new array of the live workers' slots, ascending
     */
    public int[] slots() {
        return engine.slots();
    }

    /**
     * One live worker by its slot.
     *
     * @param slot the slot id
     * @return the worker in that slot
     * @throws IllegalArgumentException when no live worker has that slot; the message lists the live slots
     */
    public Worker worker(int slot) {
        return engine.worker(slot);
    }

    /**
     * What the host gives this group and how it steers; a new report after every policy change, shadow or
     * fallback.
     *
     * @return the latest capability report (immutable)
     */
    public Capabilities capabilities() {
        return engine.capabilities();
    }

    /**
     * Every live worker's counters and kernel figures, as {@link Worker#stats()} reads them.
     *
     * @return one snapshot per live worker, in slot order
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a socket option cannot be read
     */
    public List<WorkerStats> stats() throws IOException {
        return engine.stats();
    }

    /**
     * The policy in force.
     *
     * @return the policy that steers now: {@link Policy#kernelHash()} whenever the steering program is not
     *         in use, also while another policy is only shadowed; read without waiting for a change in
     *         progress
     */
    public Policy policy() {
        return engine.policy();
    }

    /**
     * The table version: the version of the steering table last given to the program, recorded with
     * every table in the program's config and in the audit trail. Not to be confused with a socket
     * generation, which {@link #restart()} swaps in and {@link #restarts()} counts.
     *
     * @return a number that rises by one with every table (or switch to pass mode) the program is given;
     *         0 before the first
     */
    public int tableVersion() {
        return engine.tableVersion();
    }

    /**
     * The table version, under its former name.
     *
     * @return {@link #tableVersion()}
     * @deprecated "generation" also named a socket swap; use {@link #tableVersion()}
     */
    @Deprecated
    public int generation() {
        return tableVersion();
    }

    /**
     * Switches the steering policy at run time. The new table is written beside the live one and
     * switched in with a single map update, so each packet sees either the old table or the new one. A
     * policy other than the kernel hash needs the steering program: where the host cannot run it (see
     * {@link #capabilities()}), the group stays on the kernel hash and the returned change says why.
     * Switching to {@link Policy#kernelHash()} with the program attached is one map update (mode PASS).
     * If a map update fails midway, the previous table stays in force and the failure is thrown.
     *
     * @param next the policy to steer by
     * @return what changed: the policy before and the one in force now ({@link PolicyChange#applied()} is
     *         false when the host kept the kernel hash), the table version after the switch (equal to
     *         {@link #tableVersion()} until the next change), the capability report and the time it took
     * @throws IllegalArgumentException when {@code next} is null, or a weighted policy whose weights do not
     *                                  match the group's slots (one weight per slot 0..highest)
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails (the previous table stays in force; the failure is
     *                     audited)
     */
    public PolicyChange applyPolicy(Policy next) throws IOException {
        return engine.policy(BuilderChecks.policy(next));
    }

    /**
     * Switches the steering policy at run time, as {@link #applyPolicy(Policy)} does.
     *
     * @param next the policy to steer by
     * @return the capability report after the switch
     * @throws IOException as {@link #applyPolicy(Policy)} says
     * @deprecated a setter-like name that returned a report; use {@link #applyPolicy(Policy)}, whose
     *             {@link PolicyChange#capabilities()} is this report
     */
    @Deprecated
    public Capabilities policy(Policy next) throws IOException {
        return applyPolicy(next).capabilities();
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
        engine.ensureOpen();
        return Bundle.write(this, dir);
    }

    /** The steering maps as text (for the bundle). */
    String describeMaps() throws IOException {
        return engine.steering().describeMaps();
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

    /**
     * The group's audit trail: every policy change, restart, membership change, hand-off, refused peer
     * and failed map update.
     *
     * @return the trail, shared by everyone who records into it
     */
    public AuditLog audit() {
        return engine.audit();
    }

    /**
     * The state of the controller running this group.
     *
     * @return {@link ControlState#NONE} when no {@link Controller} runs this group, else its state
     */
    public ControlState controllerState() {
        Controller c = controller.get();
        return c == null ? ControlState.NONE : ControlState.valueOf(c.state().name());
    }

    /**
     * The control state as text, for reports.
     *
     * @return the state's name, or {@code -} when no controller runs this group
     * @deprecated a string that had to be parsed; use {@link #controllerState()}
     */
    @Deprecated
    public String controlState() {
        return controllerState().shown();
    }

    /**
     * The controller running this group: the one last started on it and not closed.
     *
     * @return the controller, or null when none runs
     */
    public Controller controller() {
        return controller.get();
    }

    /** Registers the controller that runs this group ({@code c}), or none (null). */
    void controller(Controller c) {
        if (c == null) {
            controller.set(null);
        } else if (!controller.compareAndSet(null, c) && controller.get() != c) {
            throw new IllegalStateException(engine.describe() + " already has a controller");
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
        return engine.shadow(BuilderChecks.shadowCandidate(candidate));
    }

    /**
     * Back to the kernel default in one step (mode PASS: two map updates; nothing to do without a
     * program). Ends shadowing as well; the program stays attached. Takes its own short path: it never
     * waits behind a restart, a resize or a hand-off in progress.
     *
     * @param reason why, for the audit trail and the capability report
     * @return how long the switch took: from this call until the kernel default was in force
     * @throws GroupClosedException when the group is closed
     * @throws IOException when a map update fails
     */
    public Duration fallbackToKernelHash(String reason) throws IOException {
        long called = System.nanoTime();
        return Duration.ofNanos(engine.fallback(reason) - called);
    }

    /**
     * Back to the kernel default, as {@link #fallbackToKernelHash(String)} does.
     *
     * @param reason why, for the audit trail and the capability report
     * @return {@link System#nanoTime()} when the kernel default was in force
     * @throws IOException as {@link #fallbackToKernelHash(String)} says
     * @deprecated a bare {@code long} (an instant of {@link System#nanoTime()}) read like a duration; use
     *             {@link #fallbackToKernelHash(String)}, which returns the {@link Duration} the switch took
     */
    @Deprecated
    public long fallback(String reason) throws IOException {
        return engine.fallback(reason);
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
        engine.removeWorker(slot);
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
        return engine.addWorker();
    }

    /**
     * Replaces every worker's socket with a new one (a new socket generation), losing no connection: the
     * new socket generation joins the group and takes over the socket-array slots before the old one closes, so no
     * new connection is steered to a closing socket; the select-or-migrate program then moves every
     * request still queued on a closing listener to the new socket in its slot, whatever
     * net.ipv4.tcp_migrate_req says. Without that program (see {@link #capabilities()}) the old accept
     * queue (UDP: receive queue) is drained into the workers before each old socket closes; connections
     * that arrive between the last drain and the close can then still be reset.
     *
     * @throws GroupClosedException when the group is closed
     * @throws ReuseportException when the next socket generation cannot be opened; the current one keeps serving
     * @throws IOException when a map update fails
     */
    public void restart() throws IOException {
        engine.restart(true, 0);
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
        engine.restart(false, slot);
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
        return engine.resize(BuilderChecks.workers(workers));
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
        return Watchdog.start(this, engine, BuilderChecks.stall(stall));
    }

    /**
     * How many socket generations were swapped in.
     *
     * @return the count: each {@link #restart()} and {@link #replaceWorker(int)} counts one
     */
    public long restarts() {
        return engine.restarts();
    }

    /**
     * Whether the group is closed here.
     *
     * @return true once {@link #close()} was called, or the group was handed off to another process
     */
    public boolean isClosed() {
        return engine.isClosed();
    }

    String describe() {
        return engine.describe();
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
        GenerationDrain.retire(engine.steering(), describe()); // a draining group retires its generation first
        engine.close();
    }

    @Override
    public String toString() {
        return "ReuseportGroup[" + protocol() + " " + GroupOpening.format(localAddress()) + ", " + workers().size()
                + " workers" + (isClosed() ? ", closed" : "") + "]";
    }

    /** Validated, named parameters for a group; {@link #open()} makes it. */
    public static final class Builder {
        final Protocol protocol;
        InetAddress address;
        int port;
        int workers = Runtime.getRuntime().availableProcessors();
        int backlog = 1024;
        int receiveBuffer;
        Policy policy = Policy.kernelHash();
        boolean migration = true;
        IngestOptions ingest = IngestOptions.defaults();
        Dissector dissector = Dissector.none();

        private Builder(Protocol protocol) {
            this.protocol = protocol;
            this.address = BuilderChecks.anyIpv4();
        }

        /**
         * The address to bind: a local interface address, or a wildcard (0.0.0.0, ::). Default 0.0.0.0.
         *
         * @param address the address; an IPv6 address makes an IPv6 group
         * @return this builder
         * @throws IllegalArgumentException when {@code address} is null
         */
        public Builder address(InetAddress address) {
            this.address = BuilderChecks.address(address);
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
            return address(GroupOpening.parseAddress(BuilderChecks.literal(literal)));
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
            this.port = BuilderChecks.port(port);
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
            this.workers = BuilderChecks.workers(workers);
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
            this.backlog = BuilderChecks.backlog(backlog);
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
            this.receiveBuffer = BuilderChecks.receiveBuffer(bytes);
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
            this.policy = BuilderChecks.policy(policy);
            return this;
        }

        /**
         * The dissector for a UDP group (default {@link Dissector#none()}): put in force once the group is
         * open, after the policy; see {@link ReuseportGroup#dissector(Dissector)}.
         *
         * @param dissector what the steering program reads in each datagram
         * @return this builder
         * @throws IllegalArgumentException when {@code dissector} is null, or not none for a TCP group
         */
        public Builder dissector(Dissector dissector) {
            this.dissector = BuilderChecks.dissector(protocol, dissector);
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
         * The ingest options every member gets (UDP GRO, busy polling) and the sticky flow table's size.
         *
         * @param options the options; {@link IngestOptions#defaults()} leaves every socket option alone
         * @return this builder
         * @throws IllegalArgumentException when {@code options} is null
         */
        public Builder ingest(IngestOptions options) {
            this.ingest = BuilderChecks.ingest(options);
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
            return GroupOpening.open(this, null);
        }
    }

    /** Whether something serves the workers a resize adds: a traffic-serving listener (group.serve, Netty). */
    boolean servesAddedWorkers() {
        return engine.served();
    }
}
