package dev.reuseport.bpf;

import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The library's sk_reuseport program ({@code steer.bpf.c}), loaded, with typed access to its maps.
 * User space computes a table of slot ids and a mode; the program applies it per new connection (TCP)
 * or datagram (UDP). Two table halves let a new table be written beside the live one and switched in
 * with one map update, so no packet ever sees half a table.
 *
 * <p>Kernel semantics: the program is attached to a whole reuseport group through any one member
 * (SO_ATTACH_REUSEPORT_EBPF, Linux 4.5 UDP / 4.6 TCP), after that member is bound (UDP) or listening
 * (TCP); attaching again replaces it; SO_DETACH_REUSEPORT_BPF (5.3) through any member removes it.
 * Closing this object does not detach it. The migrate variant (expected attach type
 * BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, 5.14) also moves requests queued on a closing listener to a live
 * slot, whatever net.ipv4.tcp_migrate_req says. Any lookup miss or error passes (SK_PASS) to the
 * kernel's hash; the program never drops.
 *
 * <p>Stateful UDP: a {@link Dissector} ({@link #setDissector}) reads each UDP datagram before the policy
 * does: a routing cookie (a QUIC connection id in the {@link QuicCid} layout, or a key at a payload
 * offset) names a socket generation and a worker in it, and a flow table remembers the slot and generation
 * of a flow's first datagram. Generations ({@link #setGeneration}, {@link #retireGeneration},
 * {@link #setWorkingGeneration}) map a generation number (0..255, wrapping) to a range of slots, so that
 * the sockets of several generations (of one process, or of an old and a new process after a hand-off)
 * serve side by side: packets of an old generation's connections reach its sockets while new ones go by
 * the policy's table to the working generation. Datagrams without a valid cookie, malformed ones, and
 * cookies for a generation or socket that is gone are steered by the policy, never dropped;
 * {@link #dissectorCounters} counts each outcome.
 */
public final class SteerProgram implements AutoCloseable {
    /** Slots in the socket array: worker ids 0..255. */
    public static final int MAX_SLOTS = 256;
    /** Entries per table half. */
    public static final int TABLE_MAX = 65537;
    /** The committed object, a resource beside this class. */
    public static final String OBJECT = "steer.bpf.o";
    /** The select-only program. */
    public static final String SELECT = "steer_select";
    /** The select-or-migrate program. */
    public static final String MIGRATE = "steer_migrate";
    /** The select-only program without dissectors (TCP groups: a dissector reads UDP datagrams only). */
    public static final String SELECT_TCP = "steer_select_tcp";
    /** The select-or-migrate program without dissectors (TCP groups). */
    public static final String MIGRATE_TCP = "steer_migrate_tcp";
    /** Every program of the object: a load verifies only the one it attaches. */
    static final java.util.List<String> PROGRAMS = java.util.List.of(SELECT, MIGRATE, SELECT_TCP, MIGRATE_TCP);

    /**
     * The program a load attaches.
     *
     * @param migrate    select-or-migrate (5.14) rather than select-only
     * @param dissectors with the dissectors (UDP groups) rather than without (TCP groups)
     * @return one of {@link #SELECT}, {@link #MIGRATE}, {@link #SELECT_TCP}, {@link #MIGRATE_TCP}
     */
    public static String programName(boolean migrate, boolean dissectors) {
        return dissectors ? (migrate ? MIGRATE : SELECT) : (migrate ? MIGRATE_TCP : SELECT_TCP);
    }

    /** How the program turns a packet into a table index. */
    public enum Mode {
        /** No selection: the kernel's hash decides. */
        PASS(0),
        /** The kernel's flow hash modulo the table length: a flow always lands on the same entry. */
        HASH(1),
        /** A global sequence modulo the table length: round-robin, or weighted when slots repeat. */
        SEQ(2),
        /** A new flow takes the next sequence entry and keeps it in an LRU flow table. */
        STICKY(3),
        /** The CPU the packet is processed on modulo the table length. */
        CPU(4);

        final int code;

        Mode(int code) {
            this.code = code;
        }

        /**
         * The mode's number in the program's config map.
         *
         * @return the value {@code steer.bpf.c} reads: 0 PASS, 1 HASH, 2 SEQ, 3 STICKY, 4 CPU
         */
        public int code() {
            return code;
        }
    }

    /**
     * A slot's counters, summed over CPUs.
     *
     * @param selected  connections or datagrams steered to the slot
     * @param shadow    shadow mode: how many the policy would have steered there
     * @param migrated  requests moved here from a closing listener (a subset of selected)
     * @param fallback  times the slot was chosen but empty, so the kernel hash decided
     */
    public record SlotCounters(long selected, long shadow, long migrated, long fallback) {
    }

    /**
     * The maps, by name, in the order a hand-off passes them: the policy's seven, then the dissectors'
     * ({@code dcfg}, {@code dactive}, {@code gens}, {@code dstats}, {@code dflows}).
     */
    public static final java.util.List<String> MAPS =
            java.util.List.of("slots", "active", "config", "table", "seq", "flows", "stats", "dcfg", "dactive",
                    "gens", "dstats", "dflows");
    /** Socket generations the program knows: numbers 0..255, wrapping. */
    public static final int MAX_GENERATIONS = 256;

    private final AutoCloseable owner;
    private final BpfProgram program;
    private final boolean migrate;
    private final SockArray slots;
    private final BpfMap active;
    private final BpfMap config;
    private final BpfMap table;
    private final BpfMap flows;
    private final BpfMap stats;
    private final BpfMap seq;
    /** The dissector and generation maps: dcfg, dactive, gens, dstats, dflows. */
    private final DissectorMaps dissectors;
    private final int cpus;
    /** What user space last wrote into each half, so that a publish writes only the entries that differ. */
    private final int[][] halves = new int[2][];
    private int half;
    private long updates;

    private SteerProgram(BpfObject object, String programName, boolean migrate) throws NativeException {
        this(object, object.program(programName), migrate, new BpfMap[] {object.map("slots"),
            object.map("active"), object.map("config"), object.map("table"), object.map("seq"), object.map("flows"),
            object.map("stats"), object.map("dcfg"), object.map("dactive"), object.map("gens"), object.map("dstats"),
            object.map("dflows")});
    }

    /** {@code m} in {@link #MAPS} order. */
    private SteerProgram(AutoCloseable owner, BpfProgram program, boolean migrate, BpfMap[] m) throws NativeException {
        this.owner = owner;
        this.migrate = migrate;
        this.program = program;
        this.slots = new SockArray(m[0]);
        this.active = m[1];
        this.config = m[2];
        this.table = m[3];
        this.seq = m[4];
        this.flows = m[5];
        this.stats = m[6];
        this.cpus = LibBpf.possibleCpus();
        byte[] h = active.lookup(BpfMap.u32(0));
        this.half = h == null ? 0 : ByteBuffer.wrap(h).order(ByteOrder.nativeOrder()).getInt(0) & 1;
        this.dissectors = new DissectorMaps(m[7], m[8], m[9], m[10], m[11], cpus);
    }

    /**
     * Takes over a program and maps another process loaded (received by SCM_RIGHTS in a hand-off): the
     * descriptors become this object's and close with it. {@code mapFds} are in {@link #MAPS} order.
     * Each map is checked against the layout this class expects, so that a descriptor of another kind
     * fails here rather than corrupting the live table. The half in force is read from the adopted maps,
     * so the next {@link #publish} writes beside it.
     *
     * @param programFd   the program's descriptor, of type sk_reuseport
     * @param programName {@link #SELECT}, {@link #MIGRATE}, {@link #SELECT_TCP} or {@link #MIGRATE_TCP}:
     *                    whether the program migrates, and whether it has the dissectors
     * @param mapFds      the map descriptors, one per name of {@link #MAPS}, in that order
     * @return the adopted program, which owns (and closes) every descriptor given
     * @throws IllegalArgumentException when the count, a map's type or sizes, or the program's type do not
     *                                  match; nothing is closed then
     * @throws NativeException when the kernel cannot report a descriptor's info (e.g. EBADF)
     */
    public static SteerProgram adopt(int programFd, String programName, int[] mapFds) throws NativeException {
        if (!PROGRAMS.contains(programName)) {
            throw new IllegalArgumentException("program name '" + programName + "'; accepted: " + PROGRAMS);
        }
        if (mapFds.length != MAPS.size()) {
            throw new IllegalArgumentException(mapFds.length + " map descriptors; accepted: " + MAPS.size() + " "
                    + MAPS);
        }
        int[] owned = new int[mapFds.length + 1];
        System.arraycopy(mapFds, 0, owned, 0, mapFds.length);
        owned[mapFds.length] = programFd;
        AutoCloseable closer = () -> {
            for (int fd : owned) {
                Sys.close(fd);
            }
        };
        BpfMap[] m = new BpfMap[mapFds.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = new BpfMap(MAPS.get(i), mapFds[i]);
        }
        expect(m[1], LibBpf.MAP_TYPE_ARRAY, 4, 4, 1);
        expect(m[2], LibBpf.MAP_TYPE_ARRAY, 4, 16, 2);
        expect(m[3], LibBpf.MAP_TYPE_ARRAY, 4, 4, 2 * TABLE_MAX);
        expect(m[6], 6, 4, 32, MAX_SLOTS);
        expect(m[7], LibBpf.MAP_TYPE_ARRAY, 4, 32, 2);
        expect(m[8], LibBpf.MAP_TYPE_ARRAY, 4, 4, 1);
        expect(m[9], LibBpf.MAP_TYPE_ARRAY, 4, 12, MAX_GENERATIONS);
        expect(m[10], 6, 4, 64, 4);
        expect(m[11], 9, 40, 16, m[11].maxEntries() >= 1 ? m[11].maxEntries() : 65536); // 1 without dissectors
        BpfProgram prog = new BpfProgram(programName, programFd);
        if (prog.info().type() != LibBpf.PROG_TYPE_SK_REUSEPORT) {
            throw new IllegalArgumentException("descriptor " + programFd + " is a BPF program of type "
                    + prog.info().type() + "; accepted: sk_reuseport (" + LibBpf.PROG_TYPE_SK_REUSEPORT + ")");
        }
        return new SteerProgram(closer, prog, programName.equals(MIGRATE) || programName.equals(MIGRATE_TCP), m);
    }

    private static void expect(BpfMap m, int type, int key, int value, int max) {
        if (m.type() != type || m.keySize() != key || m.valueSize() != value || m.maxEntries() != max) {
            throw new IllegalArgumentException("map " + m.name() + " is " + m + "; accepted: type " + type + ", key "
                    + key + ", value " + value + ", max " + max);
        }
    }

    /**
     * The descriptors a hand-off sends, so that the new process can {@link #adopt} them.
     *
     * @return the program's descriptor followed by the maps' in {@link #MAPS} order; still owned by this
     *         object
     */
    public int[] descriptors() {
        return new int[] {program.fd(), slots.fd(), active.fd(), config.fd(), table.fd(), seq.fd(), flows.fd(),
            stats.fd(), dissectors.dcfg.fd(), dissectors.dactive.fd(), dissectors.gens.fd(), dissectors.dstats.fd(),
            dissectors.dflows.fd()};
    }

    /**
     * Loads the committed object ({@link #OBJECT}, a resource of this module) and creates its maps. With
     * {@code migrate} the program to attach is the select-or-migrate one ({@link #MIGRATE}), without it
     * the plain select program ({@link #SELECT}, for kernels before 5.14); both with the dissectors, and
     * only that one program is loaded. Needs libbpf, CAP_BPF (or CAP_SYS_ADMIN) and a
     * kernel whose verifier accepts the program (the library reports 5.12 as the minimum;
     * {@link Probes#steering()} decides by doing exactly this load).
     *
     * @param migrate whether the program to attach migrates requests queued on a closing listener (5.14)
     * @return the loaded program and maps, not attached to anything yet; the caller closes it
     * @throws IllegalStateException when libbpf could not be loaded
     * @throws BpfLoadException when the verifier rejects the program (the whole log in
     *                          {@link BpfLoadException#fullLog()})
     * @throws IOException when the resource cannot be read, or another libbpf or bpf call fails
     *                     ({@link NativeException}, e.g. EPERM without the privilege)
     */
    public static SteerProgram load(boolean migrate) throws IOException {
        return load(migrate, 0);
    }

    /** The flow table's capacity in the object as built (steer.bpf.c). */
    public static final int DEFAULT_FLOW_CAPACITY = 65_536;
    /**
     * The sticky flow table's capacity without dissectors when none is asked for: a TCP connection's
     * 4-tuple is new with every connection, so the table only keeps a handshake's retransmitted SYN on its
     * listener, and preallocating 65,536 LRU entries was most of a TCP group's open time.
     */
    public static final int TCP_FLOW_CAPACITY = 4_096;
    /** The largest flow table a group may ask for (16 M entries, about 1.5 GiB of kernel memory). */
    public static final int MAX_FLOW_CAPACITY = 1 << 24;

    /**
     * As {@link #load(boolean)}, with the sticky flow table ({@code flows}, an LRU hash) sized to
     * {@code flowCapacity} entries before the load: up to that many live flows keep their worker; past
     * it, the least recently used are evicted and pick a worker again.
     *
     * @param migrate      whether the program migrates (5.14)
     * @param flowCapacity entries of the flow table, 0 for the object's own ({@value #DEFAULT_FLOW_CAPACITY})
     * @return the loaded program and maps; the caller closes it
     * @throws IllegalArgumentException when {@code flowCapacity} is negative or above {@link #MAX_FLOW_CAPACITY}
     * @throws IOException as {@link #load(boolean)}
     */
    public static SteerProgram load(boolean migrate, int flowCapacity) throws IOException {
        return load(migrate, flowCapacity, true);
    }

    /**
     * As {@link #load(boolean, int)}, choosing whether the program has the {@link Dissector dissectors}.
     * Only the program to attach is loaded ({@code bpf_program__set_autoload}): the verifier checks one
     * program, not all four of the object. A TCP group needs no dissector (they read UDP datagrams only),
     * and the program without them is about a fifth of the size; its flow-dissector table ({@code dflows})
     * gets one entry instead of 65,536 and, unless a capacity is asked for, its sticky table
     * {@value #TCP_FLOW_CAPACITY} (preallocating LRU entries cost more than the verifier).
     *
     * @param migrate      whether the program migrates (5.14)
     * @param flowCapacity entries of the flow table, 0 for the object's own ({@value #DEFAULT_FLOW_CAPACITY})
     * @param dissectors   true for {@link #SELECT}/{@link #MIGRATE} (UDP groups; {@link #setDissector} acts),
     *                     false for {@link #SELECT_TCP}/{@link #MIGRATE_TCP} (the maps are the same, the
     *                     dissector config is never read)
     * @return the loaded program and maps; the caller closes it
     * @throws IllegalArgumentException when {@code flowCapacity} is negative or above {@link #MAX_FLOW_CAPACITY}
     * @throws IOException as {@link #load(boolean)}
     */
    public static SteerProgram load(boolean migrate, int flowCapacity, boolean dissectors) throws IOException {
        if (flowCapacity < 0 || flowCapacity > MAX_FLOW_CAPACITY) {
            throw new IllegalArgumentException("flow capacity " + flowCapacity + "; accepted: 0 (default "
                    + DEFAULT_FLOW_CAPACITY + ") or 1.." + MAX_FLOW_CAPACITY);
        }
        // without dissectors the flow dissector's table is never read, and preallocating its 65,536 LRU
        // entries cost more than verifying the program
        int flows = flowCapacity > 0 ? flowCapacity : dissectors ? 0 : TCP_FLOW_CAPACITY;
        return load(migrate, dissectors, flows, dissectors ? 0 : 1, 0);
    }

    /**
     * As {@link #load(boolean, int, boolean)}, with both LRU flow tables at their smallest: for what needs the
     * verified program and not its tables, such as a capability probe or reading a program's tag (a tag does
     * not depend on map sizes). An LRU hash map is preallocated when it is created, in one stretch of kernel
     * time that nothing preempts on a kernel built without preemption: the object's own sizes (65,536 entries
     * each, about 10 MiB) held a CPU for 20-30 ms, delaying real-time threads of other processes woken on it
     * (docs/benchmarks.md, "what held the CPU").
     *
     * @param migrate    as {@link #load(boolean, int, boolean)}
     * @param dissectors as {@link #load(boolean, int, boolean)}
     * @return the loaded program and maps; the caller closes it
     * @throws IOException as {@link #load(boolean)}
     */
    public static SteerProgram loadForInspection(boolean migrate, boolean dissectors) throws IOException {
        return load(migrate, dissectors, 1, 1, 0);
    }

    /**
     * The tag the kernel gives this build's program of that kind: loaded with every map at its smallest (the
     * steering table too, 512 KiB at the object's size), read and closed. A tag hashes the program's
     * instructions without its map references, so it is that of every load of the program.
     *
     * @param migrate    as {@link #load(boolean, int, boolean)}
     * @param dissectors as {@link #load(boolean, int, boolean)}
     * @return the tag, 16 hex digits ({@link BpfProgram.Info#tag()})
     * @throws IOException as {@link #load(boolean)}
     */
    public static String tag(boolean migrate, boolean dissectors) throws IOException {
        try (SteerProgram p = load(migrate, dissectors, 1, 1, 2)) {
            return p.program().info().tag();
        }
    }

    /**
     * Opens, sizes ({@code flows}, {@code dflows}, {@code table}: entries, 0 for the object's own) and loads
     * one program.
     */
    private static SteerProgram load(boolean migrate, boolean dissectors, int flows, int dflows, int table)
            throws IOException {
        BpfObject obj = BpfObject.open(OBJECT, BpfObject.resource(OBJECT));
        try {
            if (table > 0) {
                obj.maxEntries("table", table);
            }
            if (flows > 0) {
                obj.maxEntries("flows", flows);
            }
            if (dflows > 0) {
                obj.maxEntries("dflows", dflows);
            }
            String name = programName(migrate, dissectors);
            for (String p : PROGRAMS) {
                obj.autoload(p, p.equals(name));
            }
            obj.expectedAttachType(name, migrate ? LibBpf.ATTACH_SK_REUSEPORT_SELECT_OR_MIGRATE
                    : LibBpf.ATTACH_SK_REUSEPORT_SELECT);
            obj.load(name);
            return new SteerProgram(obj, name, migrate);
        } catch (IOException | RuntimeException e) {
            obj.close();
            throw e;
        }
    }

    /**
     * The program {@link #attach} attaches.
     *
     * @return {@link #MIGRATE} when {@link #migrates()}, else {@link #SELECT}
     */
    public BpfProgram program() {
        return program;
    }

    /** Which programs of the object this load verified (empty for an adopted program). */
    java.util.List<String> loadedPrograms() {
        return owner instanceof BpfObject o ? o.loadedPrograms(PROGRAMS) : java.util.List.of();
    }

    /**
     * Whether the program reads the {@link Dissector dissector} config ({@link #SELECT} or {@link #MIGRATE});
     * the TCP variants do not.
     *
     * @return true for a program with dissectors
     */
    public boolean dissects() {
        return program.name().equals(SELECT) || program.name().equals(MIGRATE);
    }

    /**
     * Whether the attached program migrates: loaded with expected attach type
     * BPF_SK_REUSEPORT_SELECT_OR_MIGRATE (Linux 5.14), it moves requests queued on a closing listener to
     * the slot it selects instead of letting the kernel reset them.
     *
     * @return true for the select-or-migrate program
     */
    public boolean migrates() {
        return migrate;
    }

    /**
     * The socket array the program selects from.
     *
     * @return the map of slot (worker id) to socket
     */
    public SockArray slots() {
        return slots;
    }

    /**
     * The STICKY mode's flow table: an LRU hash of flow hash to slot, filled by the program; the kernel
     * evicts the least recently used flows when it is full.
     *
     * @return the map (4-byte keys and values)
     */
    public BpfMap flows() {
        return flows;
    }

    /**
     * Attaches the program to the whole reuseport group of one member ({@code SO_ATTACH_REUSEPORT_EBPF},
     * Linux 4.5 for UDP, 4.6 for TCP), replacing the program the group ran. Closing this object later
     * does not detach it.
     *
     * @param memberFd a member of the group: a bound UDP socket or a listening TCP socket with
     *                 SO_REUSEPORT
     * @throws NativeException when the kernel refuses the attach, e.g. EINVAL for a socket without
     *                         SO_REUSEPORT
     */
    public void attach(int memberFd) throws NativeException {
        Sys.setInt(memberFd, Sys.SOL_SOCKET, Sys.SO_ATTACH_REUSEPORT_EBPF, program.fd());
    }

    /**
     * Removes whatever program the reuseport group of one member runs ({@code SO_DETACH_REUSEPORT_BPF},
     * Linux 5.3), whoever attached it; the kernel hash selects from then on.
     *
     * @param memberFd any member of the group
     * @throws NativeException ENOENT when no program is attached; ENOPROTOOPT before Linux 5.3
     */
    public static void detach(int memberFd) throws NativeException {
        Sys.setInt(memberFd, Sys.SOL_SOCKET, Sys.SO_DETACH_REUSEPORT_BPF, 0);
    }

    /**
     * Writes a table and a mode into the half not in force, then switches to it with one update of the
     * {@code active} map: a packet sees the old table or the new one, never a mix. Only the entries that
     * differ from what that half held are written.
     *
     * @param mode       how a packet becomes a table index; {@link Mode#PASS} ignores the table
     * @param slotTable  the table: entry {@code i} is the slot (0..{@link #MAX_SLOTS}-1) index {@code i}
     *                   selects; 1..{@link #TABLE_MAX} entries (none needed for PASS). Repeating a slot
     *                   weights it.
     * @param shadow     true to count what the table would select (the {@code shadow} counter) while the
     *                   kernel hash still selects
     * @param generation a number user space records with the table (the program does not read it)
     * @return the half now in force, 0 or 1
     * @throws IllegalArgumentException when the table is empty or too long, or names a slot out of range;
     *                                  nothing was written then
     * @throws NativeException when a map update fails; the half in force is then still the old one
     */
    public synchronized int publish(Mode mode, int[] slotTable, boolean shadow, int generation)
            throws NativeException {
        if (mode != Mode.PASS && (slotTable.length < 1 || slotTable.length > TABLE_MAX)) {
            throw new IllegalArgumentException("table of " + slotTable.length + " entries; accepted: 1.." + TABLE_MAX);
        }
        int next = 1 - half;
        int base = next * TABLE_MAX;
        for (int i = 0; i < slotTable.length; i++) {
            int s = slotTable[i];
            if (s < 0 || s >= MAX_SLOTS) {
                throw new IllegalArgumentException("table entry " + i + " is slot " + s + "; accepted: 0.."
                        + (MAX_SLOTS - 1));
            }
        }
        int[] known = halves[next];
        halves[next] = null; // if a write below fails, what this half holds is no longer known
        for (int i = 0; i < slotTable.length; i++) {
            if (known == null || i >= known.length || known[i] != slotTable[i]) {
                table.update(BpfMap.u32(base + i), BpfMap.u32(slotTable[i]), LibBpf.BPF_ANY);
                updates++;
            }
        }
        ByteBuffer c = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        c.putInt(0, mode.code).putInt(4, mode == Mode.PASS ? 0 : slotTable.length).putInt(8, shadow ? 1 : 0)
                .putInt(12, generation);
        config.update(BpfMap.u32(next), c.array(), LibBpf.BPF_ANY);
        active.update(BpfMap.u32(0), BpfMap.u32(next), LibBpf.BPF_ANY);
        updates += 2;
        halves[next] = mode == Mode.PASS ? known : slotTable.clone();
        half = next;
        return next;
    }

    /**
     * Switches to {@link Mode#PASS}, the kernel hash, with two map updates (config, then active): the
     * fastest way back to the default without detaching.
     *
     * @param generation the number recorded with the switch
     * @return the half now in force, 0 or 1
     * @throws NativeException when a map update fails; the old table is then still in force
     */
    public int pass(int generation) throws NativeException {
        return publish(Mode.PASS, new int[0], false, generation);
    }

    /**
     * How many map updates {@link #publish} and {@link #pass} wrote through this object; the audit trail
     * reports them.
     *
     * @return the count since load (or adoption)
     */
    public synchronized long updates() {
        return updates;
    }

    /**
     * The config in force, read from the kernel.
     *
     * @return {@code [mode code, table length, shadow (0 or 1), generation]}
     * @throws NativeException when the lookup fails
     */
    public synchronized int[] config() throws NativeException {
        byte[] v = config.lookup(BpfMap.u32(half));
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(0), b.getInt(4), b.getInt(8), b.getInt(12)};
    }

    /**
     * The table in force, read back from the kernel entry by entry (one lookup per entry).
     *
     * @return the slot of each table index; empty in PASS mode
     * @throws NativeException when a lookup fails
     */
    public synchronized int[] table() throws NativeException {
        int len = config()[1];
        int[] out = new int[len];
        for (int i = 0; i < len; i++) {
            byte[] v = table.lookup(BpfMap.u32(half * TABLE_MAX + i));
            out[i] = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(0);
        }
        return out;
    }

    /**
     * The program's per-slot counters, summed over every possible CPU. They count since load or the last
     * {@link #resetCounters}; the sum is not atomic with the program's increments.
     *
     * @param n how many slots to read, from slot 0; at most {@link #MAX_SLOTS}
     * @return one entry per slot, index = slot
     * @throws NativeException when a lookup fails
     */
    public SlotCounters[] counters(int n) throws NativeException {
        SlotCounters[] out = new SlotCounters[n];
        int stride = (stats.valueSize() + 7) & ~7;
        for (int s = 0; s < n; s++) {
            byte[] v = stats.lookup(BpfMap.u32(s), stride * cpus);
            ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
            long sel = 0;
            long sh = 0;
            long mig = 0;
            long fb = 0;
            for (int c = 0; c < cpus; c++) {
                int o = c * stride;
                sel += b.getLong(o);
                sh += b.getLong(o + 8);
                mig += b.getLong(o + 16);
                fb += b.getLong(o + 24);
            }
            out[s] = new SlotCounters(sel, sh, mig, fb);
        }
        return out;
    }

    /**
     * Zeroes the counters of the first {@code n} slots on every CPU. Increments racing with the reset
     * may survive it.
     *
     * @param n how many slots to reset, from slot 0; at most {@link #MAX_SLOTS}
     * @throws NativeException when a map update fails
     */
    public void resetCounters(int n) throws NativeException {
        int stride = (stats.valueSize() + 7) & ~7;
        byte[] zero = new byte[stride * cpus];
        for (int s = 0; s < n; s++) {
            LibBpf.mapUpdate(stats.fd(), BpfMap.u32(s), zero, LibBpf.BPF_ANY, "map stats");
        }
    }

    /**
     * Forgets every sticky flow that points at a slot, so that those flows pick a slot again on their next
     * connection (used when the slot's worker leaves). Walks the whole flow table.
     *
     * @param slot the slot whose flows go
     * @return how many flows were forgotten
     * @throws NativeException when a walk, lookup or delete fails
     */
    public int forgetFlowsOf(int slot) throws NativeException {
        byte[] key = null;
        byte[] next = new byte[4];
        java.util.List<byte[]> doomed = new java.util.ArrayList<>();
        int guard = 0;
        while (LibBpf.mapNextKey(flows.fd(), key, next) && guard++ <= flows.maxEntries()) {
            byte[] v = flows.lookup(next);
            if (v != null && ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(0) == slot) {
                doomed.add(next.clone());
            }
            key = next.clone();
        }
        for (byte[] k : doomed) {
            flows.delete(k);
        }
        return doomed.size();
    }

    // ------------------------------------------------------------------ dissectors and generations

    /** The state of a socket generation in the program's {@code gens} map. */
    public enum GenerationState {
        /** Never set up (or its number not in use): its cookies are "no cookie". */
        UNUSED,
        /** Its sockets serve: cookies and flows of it reach its slots. */
        LIVE,
        /** Drained and gone: its cookies count as "gone" and are steered by the policy. */
        RETIRED
    }

    /**
     * A socket generation as the program sees it: a range of slots and the key of its cookies' check bits.
     *
     * @param number the generation, 0..255 (wrapping)
     * @param base   its first slot
     * @param count  its slots: {@code base .. base+count-1}; a cookie's worker must be below it
     * @param key    the key of its cookies' check bits ({@link QuicCid#check})
     * @param state  UNUSED, LIVE or RETIRED
     */
    public record Generation(int number, int base, int count, int key, GenerationState state) {
    }

    /**
     * A dissector's counters, summed over CPUs; each dissected datagram counts once in {@code cookie},
     * {@code noCookie}, {@code gone} or {@code malformed} (QUIC, offset cookie), or in {@code flowHit} or
     * {@code flowMiss} (flow).
     *
     * @param cookie      steered by a valid cookie to its slot
     * @param noCookie    no valid cookie (a client's Initial, a random or forged id): the policy steered
     * @param gone        a valid cookie or a known flow whose slot or generation is gone: the policy steered
     * @param malformed   too short for the header or the key, a DCID length over 20, an unreadable address:
     *                    the policy steered (never dropped)
     * @param flowHit     flow: a known flow went to its slot
     * @param flowMiss    flow: a new (or expired, or gone) flow; the policy steered and it was remembered
     * @param flowExpired flow: the subset of {@code flowMiss} whose entry had been idle too long
     */
    public record DissectorCounters(long cookie, long noCookie, long gone, long malformed, long flowHit,
                                    long flowMiss, long flowExpired) {
    }

    /**
     * Puts a dissector in force for the UDP datagrams of the group, keeping the working generation: the
     * config is written into the half of the {@code dcfg} map not in force and switched in with one update
     * of {@code dactive}, so a datagram sees the old dissector or the new one. Takes effect at once and
     * only for UDP; {@link Mode#PASS} (the kernel hash) bypasses every dissector.
     *
     * @param dissector what to read in each datagram
     * @throws NativeException when a map update fails; the old dissector is then still in force
     */
    public synchronized void setDissector(Dissector dissector) throws NativeException {
        java.util.Objects.requireNonNull(dissector, "dissector");
        updates += dissectors.writeDissector(dissector, workingGeneration());
    }

    /**
     * The dissector in force, read from the kernel.
     *
     * @return the spec the program reads; {@link Dissector#none()} after load
     * @throws NativeException when the lookup fails
     */
    public synchronized Dissector dissector() throws NativeException {
        return dissectors.dissector();
    }

    /**
     * Names the working generation: the one a new flow of the {@link Dissector#flow flow} dissector is
     * remembered with. (Datagrams without a cookie follow the policy's table, which user space fills with
     * the working generation's slots.)
     *
     * @param generation 0..255
     * @throws IllegalArgumentException when the number is out of range
     * @throws NativeException when a map update fails
     */
    public synchronized void setWorkingGeneration(int generation) throws NativeException {
        DissectorMaps.checkGeneration(generation);
        updates += dissectors.writeDissector(dissector(), generation);
    }

    /**
     * The working generation in force.
     *
     * @return 0..255
     * @throws NativeException when the lookup fails
     */
    public synchronized int workingGeneration() throws NativeException {
        return dissectors.workingGeneration();
    }

    /**
     * Makes a generation LIVE with a range of slots and the key of its cookies' check bits. Set it up
     * before any of its connection ids or keys is handed out, and change its range or key only after
     * {@link #retireGeneration retiring} it (a datagram reading the entry while it is rewritten could see
     * a mix). A new key for a reused number makes the ids of its earlier holder "no cookie".
     *
     * @param number the generation, 0..255
     * @param base   its first slot, 0..255
     * @param count  its slots, 1..(256 - base)
     * @param key    the key of its check bits (any value; a random one per generation is best)
     * @throws IllegalArgumentException when a value is out of range
     * @throws NativeException when the map update fails
     */
    public synchronized void setGeneration(int number, int base, int count, int key) throws NativeException {
        updates += dissectors.setGeneration(number, base, count, key);
    }

    /**
     * Retires a generation: its cookies and flows count as "gone" from now on and are steered by the
     * policy. Its range and key stay recorded (so its cookies are still recognised) until the number is
     * set up again.
     *
     * @param number the generation, 0..255
     * @throws IllegalArgumentException when the number is out of range
     * @throws NativeException when a map update fails
     */
    public synchronized void retireGeneration(int number) throws NativeException {
        updates += dissectors.retireGeneration(number);
    }

    /**
     * A generation as the program sees it.
     *
     * @param number the generation, 0..255
     * @return its range, key and state (UNUSED with zeros when never set up)
     * @throws IllegalArgumentException when the number is out of range
     * @throws NativeException when the lookup fails
     */
    public synchronized Generation generation(int number) throws NativeException {
        return dissectors.generation(number);
    }

    /**
     * A dissector's counters, summed over every possible CPU (not atomic with the program's increments).
     *
     * @param kind the dissector; NONE has no counters and reads zeros
     * @return the counters since load or the last {@link #resetDissectorCounters}
     * @throws NativeException when the lookup fails
     */
    public DissectorCounters dissectorCounters(Dissector.Kind kind) throws NativeException {
        return dissectors.counters(kind);
    }

    /**
     * Zeroes every dissector's counters on every CPU.
     *
     * @throws NativeException when a map update fails
     */
    public void resetDissectorCounters() throws NativeException {
        dissectors.resetCounters();
    }

    /**
     * The flow dissector's table: an LRU hash of 4-tuple (40-byte key) to slot, generation and last-seen
     * time (16-byte value), filled by the program.
     *
     * @return the map
     */
    public BpfMap dissectorFlows() {
        return dissectors.dflows;
    }

    /**
     * Releases this process's descriptors of the program and maps. A program attached to a group keeps
     * running (the group holds it), and so do the maps it uses.
     */
    @Override
    public void close() {
        try {
            owner.close();
        } catch (Exception e) {
            System.getLogger("dev.reuseport.bpf").log(System.Logger.Level.WARNING, "closing the steering program: " + e);
        }
    }
}
