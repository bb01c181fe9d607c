package dev.reuseport.internal.steer;

import dev.reuseport.bpf.BpfProgram;
import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.internal.Audit;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import java.io.IOException;

/**
 * The steering program of one group and the version of the table it was last given: load and attach,
 * publish a table (or its shadow), pass to the kernel hash, per-slot counters and the maps as text.
 * Knows slots and descriptors, not workers or policies (the group plans with {@link TablePlanner}).
 *
 * <p>Not thread-safe: the group calls it under its steering lock, which is held for map updates only,
 * never across a sleep or another process's answer.
 */
public final class Steering {
    private final Audit audit;
    private SteerProgram program;
    private TablePlanner.Plan plan;
    /** Rises by one with every table (or switch to pass mode) the program is given; read without the lock. */
    private volatile int tableVersion;
    private int programId;
    private String programTag = "-";
    /** What the program was last given (mode, table, shadow), so a change can put it back; null until known. */
    private InForce inForce;

    /** A table as given to the program. */
    private record InForce(SteerProgram.Mode mode, int[] table, boolean shadow) {
    }

    /**
     * What a change may have to put back: the table in force, its version and the plan of the table policy.
     *
     * @param program      whether a program was attached
     * @param mode         the mode in force (null without a program)
     * @param table        the table in force (empty in PASS mode)
     * @param shadow       whether the table only counted
     * @param tableVersion the table version
     * @param plan         the plan of the table policy in force, or null
     */
    public record Saved(boolean program, SteerProgram.Mode mode, int[] table, boolean shadow, int tableVersion,
                        TablePlanner.Plan plan) {
    }

    /**
     * The steering as it is now, for {@link #restore} when a change fails.
     *
     * @return the saved state
     * @throws NativeException when the table in force of an adopted program cannot be read
     */
    public Saved save() throws NativeException {
        if (program == null) {
            return new Saved(false, null, new int[0], false, tableVersion, plan);
        }
        if (inForce == null) { // adopted: read once what the old process left in force
            int[] cfg = program.config();
            SteerProgram.Mode m = SteerProgram.Mode.values()[Math.min(cfg[0], SteerProgram.Mode.values().length - 1)];
            inForce = new InForce(m, m == SteerProgram.Mode.PASS ? new int[0] : program.table(), cfg[2] == 1);
        }
        return new Saved(true, inForce.mode(), inForce.table(), inForce.shadow(), tableVersion, plan);
    }

    /**
     * Puts back the table, table version and plan of {@code saved} (a failed change's rollback). A program
     * attached since stays attached in PASS mode, which is what the kernel hash does; the version is the
     * saved one again, so readers see the table they saw before the change.
     *
     * @param saved what {@link #save} returned before the change
     * @param why   the change, for the trail
     * @throws NativeException when a map update fails (the trail says so)
     */
    public void restore(Saved saved, String why) throws NativeException {
        plan = saved.plan();
        if (program == null || tableVersion == saved.tableVersion()) {
            return;
        }
        SteerProgram.Mode m = saved.program() ? saved.mode() : SteerProgram.Mode.PASS;
        int[] t = saved.program() ? saved.table() : new int[0];
        try {
            program.publish(m, t, saved.shadow(), saved.tableVersion());
        } catch (NativeException | RuntimeException e) {
            audit.record("rollback-failed", "reason", why, "table_version", tableVersion, "error", e.getMessage());
            throw e;
        }
        inForce = new InForce(m, t, saved.shadow());
        audit.record("rollback", "reason", why, "mode", m.name(), "table_length", t.length, "from_table_version",
                tableVersion, "table_version", saved.tableVersion());
        tableVersion = saved.tableVersion();
    }

    /**
     * A group's steering, with no program yet.
     *
     * @param audit where publishes, passes and failures are recorded
     */
    public Steering(Audit audit) {
        this.audit = audit;
    }

    /** The dissector in force (UDP only); NONE until one is set. */
    private dev.reuseport.bpf.Dissector dissector = dev.reuseport.bpf.Dissector.none();
    /** The socket generation whose slots serve new flows (the program's working generation). */
    private int workingGeneration;
    /** The key of the working generation's cookie check bits: random per group, so forged ids fail. */
    private int generationKey = new java.security.SecureRandom().nextInt();

    /**
     * Takes a program and table version that a hand-off delivered.
     *
     * @param adopted      the program, already attached to the sockets, or null
     * @param tableVersion the version the old process had published
     */
    public void adopt(SteerProgram adopted, int tableVersion) {
        this.program = adopted;
        this.tableVersion = tableVersion;
        this.inForce = null;
        if (adopted != null && adopted.dissects()) {
            try {
                dissector = adopted.dissector();
                workingGeneration = adopted.workingGeneration();
                SteerProgram.Generation g = adopted.generation(workingGeneration);
                if (g.state() == SteerProgram.GenerationState.LIVE) {
                    generationKey = g.key();
                    generationBase = g.base();
                }
            } catch (NativeException e) {
                audit.record("dissector-unreadable", "error", e.getMessage(), "outcome", "assumed none");
            }
        }
    }

    /**
     * Puts a dissector in force. Before the first cookie dissector the working generation is set up over
     * slots 0..63 (or up to the highest slot in use) with this group's random key, so a cookie names a slot
     * directly and an empty slot counts as "gone"; the slots beyond are for the generations of processes
     * that take the group over. The program must be attached and must have the dissectors (a UDP group's).
     *
     * @param next the dissector
     * @param why  the reason, for the trail
     * @throws IllegalStateException when no program is attached or it has no dissectors
     * @throws NativeException when a map update fails; the previous dissector then stays in force
     */
    public void dissector(dev.reuseport.bpf.Dissector next, String why) throws NativeException {
        if (program == null || !program.dissects()) {
            throw new IllegalStateException(program == null ? "no steering program attached"
                    : "program " + program.program().name() + " has no dissectors (a TCP group's)");
        }
        ensureNotSuperseded("dissector " + next);
        if (next.kind() != dev.reuseport.bpf.Dissector.Kind.NONE
                && program.generation(workingGeneration).state() != SteerProgram.GenerationState.LIVE) {
            program.setGeneration(workingGeneration, 0, GenerationSteps.firstSlots(program), generationKey);
            program.setWorkingGeneration(workingGeneration);
        }
        try {
            program.setDissector(next);
        } catch (NativeException e) {
            audit.record("dissector-failed", "reason", why, "dissector", next.toString(), "error", e.getMessage(),
                    "outcome", "previous dissector " + dissector + " stays in force");
            throw e;
        }
        audit.record("dissector", "reason", why, "dissector", next.toString(), "previous", dissector.toString(),
                "working_generation", workingGeneration);
        dissector = next;
    }

    /** The first slot of the working generation: a cookie's worker field is {@code slot - base}. */
    private int generationBase;
    /** Set when another process's generation took over new flows: this group drains, its steering frozen. */
    private volatile String superseded;
    private final java.util.concurrent.CountDownLatch supersededOnce = new java.util.concurrent.CountDownLatch(1);

    /**
     * The first slot of the working generation's range.
     *
     * @return 0 for a group's first generation
     */
    public int generationBase() {
        return generationBase;
    }

    /**
     * Sets up and names the working generation a take-over made of this process's own sockets
     * ({@link GenerationSteps#start}), then publishes nothing: the caller puts the policy's table over its
     * slots in between ({@code table}), so that new flows reach it only once it is LIVE.
     *
     * @param number the generation, not live now
     * @param base   its first slot
     * @param count  its slots
     * @param key    the key of its cookies' check bits
     * @param slots  the slots of its sockets
     * @param fds    their sockets, in that order
     * @param table  publishes the policy's table over {@code slots}
     * @throws IOException when a map update fails
     */
    public void startWorking(int number, int base, int count, int key, int[] slots, int[] fds,
                             GenerationSteps.Step table) throws IOException {
        ensureNotSuperseded("generation " + number);
        GenerationSteps.start(program, audit, number, base, count, key, slots, fds);
        table.run();
        program.setWorkingGeneration(number);
        audit.record("generation-working", "generation", number, "previous", workingGeneration);
        workingGeneration = number;
        generationKey = key;
        generationBase = base;
    }

    /**
     * Another process's generation took over new flows: from now on this group's steering changes nothing
     * in the shared maps (a publish, a slot, a dissector fails; a pass is skipped), and it drains.
     *
     * @param reason what superseded it, for the trail
     */
    public void supersede(String reason) {
        superseded = reason;
        supersededOnce.countDown();
        audit.record("generation-superseded", "generation", workingGeneration, "reason", reason, "outcome",
                "draining: only this generation's cookies and flows reach its sockets; its steering is frozen");
    }

    /**
     * Waits until another process's generation took over new flows ({@link #supersede}).
     *
     * @param millis how long at most
     * @return true once superseded
     * @throws InterruptedException when interrupted
     */
    public boolean awaitSuperseded(long millis) throws InterruptedException {
        return supersededOnce.await(Math.max(0, millis), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void ensureNotSuperseded(String what) {
        if (superseded != null) {
            throw new IllegalStateException(what + " refused: generation " + workingGeneration + " of this group is "
                    + "draining (" + superseded + "); the process that took over steers the port");
        }
    }

    /**
     * A draining group closes: retires its own generation ({@link GenerationSteps#retire}).
     *
     * @return whether it was retired here
     * @throws NativeException when a map operation fails
     */
    public synchronized boolean retireOwn() throws NativeException {
        return superseded != null && program != null
                && GenerationSteps.retire(program, audit, workingGeneration, generationKey, "closed after draining");
    }

    /**
     * Retires those of {@code numbers} whose sockets are all gone ({@link GenerationSteps#retireDead}).
     *
     * @param numbers the generations to check
     * @return how many of them are still live, or -1 when the program is gone
     * @throws NativeException when a map operation fails
     */
    public synchronized int retireDeadGenerations(int[] numbers) throws NativeException {
        return program == null ? -1 : GenerationSteps.retireDead(program, audit, workingGeneration, numbers);
    }

    /**
     * The dissector in force.
     *
     * @return NONE when none was set
     */
    public dev.reuseport.bpf.Dissector dissector() {
        return dissector;
    }

    /**
     * The working socket generation: the one whose slots take new flows.
     *
     * @return 0..255
     */
    public int workingGeneration() {
        return workingGeneration;
    }

    /**
     * The key of the working generation's cookie check bits ({@link dev.reuseport.bpf.QuicCid#check}).
     *
     * @return the key, the same for the group's life (or as the hand-off delivered it)
     */
    public int generationKey() {
        return generationKey;
    }

    /**
     * Every dissector's counters.
     *
     * @return one entry per dissector kind but NONE, in kind order; empty without a program with dissectors
     * @throws NativeException when a lookup fails
     */
    public java.util.Map<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> dissectorCounters()
            throws NativeException {
        java.util.Map<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> out =
                new java.util.EnumMap<>(dev.reuseport.bpf.Dissector.Kind.class);
        if (program != null && program.dissects()) {
            for (dev.reuseport.bpf.Dissector.Kind k : dev.reuseport.bpf.Dissector.Kind.values()) {
                if (k != dev.reuseport.bpf.Dissector.Kind.NONE) {
                    out.put(k, program.dissectorCounters(k));
                }
            }
        }
        return out;
    }

    /**
     * Loads, fills and attaches the steering program in pass mode.
     *
     * @param features the host's probed features
     * @param migrate  whether to load the select-or-migrate variant
     * @param slots    the live slot ids
     * @param fds      each live slot's socket, in the order of {@code slots}
     * @param flowCapacity entries of the sticky flow table, 0 for the object's own
     * @return null when attached, else why not
     */
    public String enable(java.util.List<Feature> features, boolean migrate, int[] slots, int[] fds, int flowCapacity) {
        return enable(features, migrate, slots, fds, flowCapacity, true);
    }

    /**
     * As {@link #enable(java.util.List, boolean, int[], int[], int)}, choosing the program variant: a TCP
     * group loads the program without dissectors (they read UDP datagrams only), which the verifier checks
     * several times faster.
     *
     * @param features     the host's probed features
     * @param migrate      whether to load the select-or-migrate variant
     * @param slots        the live slot ids
     * @param fds          each live slot's socket, in the order of {@code slots}
     * @param flowCapacity entries of the sticky flow table, 0 for the object's own
     * @param dissectors   whether the program reads the dissector config (UDP groups)
     * @return null when attached, else why not
     */
    public String enable(java.util.List<Feature> features, boolean migrate, int[] slots, int[] fds, int flowCapacity,
                         boolean dissectors) {
        Feature missing = Probes.firstMissing(features);
        if (missing != null) {
            return missing.name() + " is " + missing.state() + " (" + missing.detail() + ")";
        }
        SteerProgram p = null;
        try {
            p = SteerProgram.load(migrate, flowCapacity, dissectors);
            for (int i = 0; i < slots.length; i++) {
                p.slots().set(slots[i], fds[i]);
            }
            p.pass(tableVersion);
            p.attach(fds[0]);
            program = p;
            inForce = new InForce(SteerProgram.Mode.PASS, new int[0], false);
            BpfProgram.Info info = p.program().info();
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

    /**
     * Whether a program is attached.
     *
     * @return true with a program
     */
    public boolean attached() {
        return program != null;
    }

    /**
     * The attached program.
     *
     * @return the program, or null
     */
    public SteerProgram program() {
        return program;
    }

    /**
     * Whether the attached program moves a closing listener's queue to its slot's new socket.
     *
     * @return true for the select-or-migrate program
     */
    public boolean migrates() {
        return program != null && program.migrates();
    }

    /**
     * The version of the table last given to the program; readable without the lock.
     *
     * @return 0 before the first table
     */
    public int tableVersion() {
        return tableVersion;
    }

    /**
     * The plan of the table policy in force.
     *
     * @return the plan, or null (kernel hash, shadow)
     */
    public TablePlanner.Plan plan() {
        return plan;
    }

    /**
     * Records the plan of the table policy in force.
     *
     * @param p the plan, or null when no table policy steers
     */
    public void plan(TablePlanner.Plan p) {
        plan = p;
    }

    /**
     * The plan for {@code rule} over the live slots, with this host's possible CPU count.
     *
     * @param rule     the policy in the planner's terms
     * @param live     the live slot ids, ascending
     * @param previous the plan in force, or null
     * @return the plan
     * @throws NativeException when the CPU count cannot be read
     */
    public TablePlanner.Plan plan(TablePlanner.Rule rule, int[] live, TablePlanner.Plan previous)
            throws NativeException {
        return TablePlanner.plan(rule, live, previous, LibBpf.possibleCpus());
    }

    /**
     * Gives the program a new table (the next table version) and records it in the audit trail. A failed
     * map update leaves the previous table in force; that is audited and thrown.
     *
     * @param p      the table
     * @param shadow count only
     * @param why    the reason, for the trail
     * @param policy the spec of the policy in force, for the trail
     * @return {@link System#nanoTime()} at the moment the table was in force (before the trail's entry)
     * @throws NativeException when a map update fails
     */
    public long publish(TablePlanner.Plan p, boolean shadow, String why, String policy) throws NativeException {
        ensureNotSuperseded("table (" + why + ")");
        long before = program.updates();
        long switched;
        try {
            program.publish(p.mode(), p.table(), shadow, tableVersion + 1);
            switched = System.nanoTime();
        } catch (NativeException | RuntimeException e) {
            audit.record("publish-failed", "reason", why, "policy", policy, "table_version", tableVersion,
                    "error", e.getMessage(), "outcome", "previous table (version " + tableVersion + ") stays in force");
            throw e;
        }
        tableVersion++;
        inForce = new InForce(p.mode(), p.mode() == SteerProgram.Mode.PASS ? new int[0] : p.table().clone(), shadow);
        audit.record(shadow ? "shadow" : "policy", "reason", why, "mode", p.mode().name(), "table_length",
                p.length(), "table_version", tableVersion, "program_id", programId, "program_tag", programTag,
                "map_updates", program.updates() - before);
        return switched;
    }

    /**
     * Mode PASS: the kernel hash decides; two map updates.
     *
     * @param why the reason, for the trail
     * @return {@link System#nanoTime()} at the moment the kernel default was in force
     * @throws NativeException when a map update fails
     */
    public long pass(String why) throws NativeException {
        long t0 = System.nanoTime();
        if (superseded != null) { // the process that took over steers the port: its table stays in force
            audit.record("pass-skipped", "reason", why, "outcome", "draining (" + superseded + ")");
            return t0;
        }
        program.pass(tableVersion + 1);
        long inForce = System.nanoTime();
        this.inForce = new InForce(SteerProgram.Mode.PASS, new int[0], false);
        tableVersion++;
        audit.record("pass", "reason", why, "table_version", tableVersion, "program_id", programId, "program_tag",
                programTag, "took_us", (inForce - t0) / 1000);
        return inForce;
    }

    /**
     * Points a slot of the socket array at a socket.
     *
     * @param slot the slot id
     * @param fd   the socket
     * @throws NativeException when the map update fails
     */
    public void setSlot(int slot, int fd) throws NativeException {
        ensureNotSuperseded("slot " + slot);
        program.slots().set(slot, fd);
    }

    /**
     * Empties a slot of the socket array (sticky flows remembered on it re-pick).
     *
     * @param slot the slot id
     * @throws NativeException when the map update fails
     */
    public void clearSlot(int slot) throws NativeException {
        program.slots().clear(slot);
    }

    /**
     * The per-slot counters.
     *
     * @param slots how many slots, from 0
     * @return one entry per slot
     * @throws NativeException when a lookup fails
     */
    public SteerProgram.SlotCounters[] counters(int slots) throws NativeException {
        return program.counters(slots);
    }

    /** Detaches from this process: closes the program and map descriptors (the program leaves with the last member). */
    public synchronized void close() {
        if (program != null) {
            program.close();
            program = null;
            inForce = null;
        }
    }

    /**
     * The steering maps as text: config and table of the half in force, per-slot counters, flow count.
     *
     * @param slots how many slots to show, from 0
     * @return the text, or a line saying no program is attached
     * @throws IOException when a lookup fails
     */
    public String describe(int slots) throws IOException {
        if (program == null) {
            return "no steering program attached\n";
        }
        StringBuilder b = new StringBuilder();
        b.append("program ").append(program.program().name()).append(" id ").append(program.program().info().id())
                .append(" tag ").append(program.program().info().tag()).append('\n');
        int[] cfg = program.config();
        b.append("config mode ").append(SteerProgram.Mode.values()[Math.min(cfg[0], 4)]).append(" table_len ")
                .append(cfg[1]).append(" shadow ").append(cfg[2]).append(" table_version ").append(cfg[3]).append('\n');
        int[] table = program.table();
        int[] count = new int[SteerProgram.MAX_SLOTS];
        for (int s : table) {
            count[s]++;
        }
        b.append("table (").append(table.length).append(" entries), entries per slot:");
        for (int s = 0; s < SteerProgram.MAX_SLOTS; s++) {
            if (count[s] > 0) {
                b.append(' ').append(s).append('=').append(count[s]);
            }
        }
        b.append('\n');
        int show = Math.min(64, table.length);
        b.append("table head:");
        for (int i = 0; i < show; i++) {
            b.append(' ').append(table[i]);
        }
        b.append(table.length > show ? " ...\n" : "\n");
        b.append("slots (socket cookies):");
        for (int s = 0; s < slots; s++) {
            b.append(' ').append(s).append('=').append(program.slots().cookie(s));
        }
        b.append('\n');
        SteerProgram.SlotCounters[] c = program.counters(slots);
        b.append(String.format("%-5s %12s %12s %10s %10s%n", "slot", "selected", "shadow", "migrated", "fallback"));
        for (int s = 0; s < c.length; s++) {
            b.append(String.format("%-5d %12d %12d %10d %10d%n", s, c[s].selected(), c[s].shadow(), c[s].migrated(),
                    c[s].fallback()));
        }
        b.append("sticky flows remembered: ").append(program.flows().countKeys()).append('\n');
        if (program.dissects()) {
            b.append("dissector ").append(program.dissector()).append(" working generation ")
                    .append(program.workingGeneration()).append('\n');
            for (java.util.Map.Entry<dev.reuseport.bpf.Dissector.Kind, SteerProgram.DissectorCounters> e
                    : dissectorCounters().entrySet()) {
                b.append("dissector counters ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
            }
            b.append("flow-dissector flows remembered: ").append(program.dissectorFlows().countKeys()).append('\n');
        } else {
            b.append("program without dissectors\n");
        }
        return b.toString();
    }
}
