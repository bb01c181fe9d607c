package dev.reuseport;

import dev.reuseport.bpf.SteerProgram;

/**
 * The socket options for ingest that a group sets on every member it opens (UDP GRO, SO_BUSY_POLL,
 * SO_PREFER_BUSY_POLL) and the size of the steering program's sticky flow table. Immutable: each
 * {@code with} method returns a new value. Give it to {@link ReuseportGroup.Builder#ingest(IngestOptions)}:
 * <pre>{@code
 * ReuseportGroup.udp().port(9000).workers(4)
 *         .ingest(IngestOptions.defaults().udpGro(true).busyPoll(50))
 *         .open();
 * }</pre>
 * Whether the kernel takes each option is in the group's capability report ({@code UDP_GRO},
 * {@code UDP_SEGMENT}, {@code SO_PREFER_BUSY_POLL}); {@link Worker#udpGro()}, {@link Worker#busyPollMicros()}
 * and {@link Worker#preferBusyPoll()} read them back from each member.
 */
public final class IngestOptions {
    private static final IngestOptions DEFAULTS = new IngestOptions(false, 0, false, 0);

    private final boolean udpGro;
    private final int busyPollMicros;
    private final boolean preferBusyPoll;
    private final int flowCapacity;

    private IngestOptions(boolean udpGro, int busyPollMicros, boolean preferBusyPoll, int flowCapacity) {
        this.udpGro = udpGro;
        this.busyPollMicros = busyPollMicros;
        this.preferBusyPoll = preferBusyPoll;
        this.flowCapacity = flowCapacity;
    }

    /**
     * Every option off, the program's own flow table size.
     *
     * @return the defaults
     */
    public static IngestOptions defaults() {
        return DEFAULTS;
    }

    /**
     * UDP GRO (generic receive offload, Linux 5.0) on every member: the kernel may hand a receive several
     * datagrams of one flow, coalesced into one buffer of equal-sized segments, which
     * {@link Worker#receive(DatagramBatch, java.time.Duration)} reports with their segment size. Receive
     * with batches of 65,535-byte slots: a coalesced buffer larger than the slot is truncated. Ignored for
     * TCP. Default off.
     *
     * @param on whether to set UDP_GRO
     * @return these options with UDP GRO {@code on}
     */
    public IngestOptions udpGro(boolean on) {
        return new IngestOptions(on, busyPollMicros, preferBusyPoll, flowCapacity);
    }

    /**
     * SO_BUSY_POLL (Linux 3.11) on every member: a blocking receive with nothing queued busy-polls the
     * device's queue for up to {@code micros} microseconds before sleeping. Costs CPU while waiting; helps
     * only devices with NAPI busy-poll support (not loopback). Raising it above net.core.busy_read needs
     * CAP_NET_ADMIN. Default 0 (off).
     *
     * @param micros 0..1,000,000
     * @return these options with busy polling for {@code micros}
     * @throws IllegalArgumentException naming the value out of range
     */
    public IngestOptions busyPoll(int micros) {
        if (micros < 0 || micros > 1_000_000) {
            throw new IllegalArgumentException("busyPoll " + micros + " us is out of range; accepted: 0..1000000");
        }
        return new IngestOptions(udpGro, micros, preferBusyPoll, flowCapacity);
    }

    /**
     * SO_PREFER_BUSY_POLL (Linux 5.11) on every member: prefer busy polling to softirq processing of the
     * device queue (with a device's napi_defer_hard_irqs). Default off.
     *
     * @param on whether to set SO_PREFER_BUSY_POLL
     * @return these options with SO_PREFER_BUSY_POLL {@code on}
     */
    public IngestOptions preferBusyPoll(boolean on) {
        return new IngestOptions(udpGro, busyPollMicros, on, flowCapacity);
    }

    /**
     * Entries of the steering program's sticky flow table (an LRU hash keyed by the flow hash), set before
     * the program is loaded: up to this many live flows keep their worker under {@link Policy#sticky()};
     * past it the least recently used are evicted and choose again (they move; a flow set cycling over
     * more than the capacity misses on nearly every packet, so most flows move). The table gets 256 more
     * entries per CPU than asked, because the kernel's LRU starts evicting before it is full. Kernel memory,
     * as fdinfo's memlock reports it, is about 80 bytes per entry (4-byte key and value, element and bucket
     * overhead): 65,536 entries about 5 MiB, 1,000,000 about 77 MiB, charged to the memory cgroup.
     * Default 0: 65,536.
     *
     * @param entries 0, or 1..16,777,216
     * @return these options with a flow table of {@code entries}
     * @throws IllegalArgumentException naming the value out of range
     */
    public IngestOptions flowCapacity(int entries) {
        if (entries < 0 || entries > SteerProgram.MAX_FLOW_CAPACITY) {
            throw new IllegalArgumentException("flowCapacity " + entries + " is out of range; accepted: 0 (default "
                    + SteerProgram.DEFAULT_FLOW_CAPACITY + ") or 1.." + SteerProgram.MAX_FLOW_CAPACITY);
        }
        return new IngestOptions(udpGro, busyPollMicros, preferBusyPoll, entries);
    }

    /**
     * Whether UDP GRO is asked for.
     *
     * @return true when every UDP member gets UDP_GRO
     */
    public boolean udpGro() {
        return udpGro;
    }

    /**
     * The SO_BUSY_POLL time asked for.
     *
     * @return microseconds, 0 when off
     */
    public int busyPollMicros() {
        return busyPollMicros;
    }

    /**
     * Whether SO_PREFER_BUSY_POLL is asked for.
     *
     * @return true when every member gets it
     */
    public boolean preferBusyPoll() {
        return preferBusyPoll;
    }

    /**
     * The sticky flow table's size asked for.
     *
     * @return entries, 0 for the program's own
     */
    public int flowCapacity() {
        return flowCapacity;
    }

    /** Free entries the kernel's LRU map may hold back per CPU (twice its LOCAL_FREE_TARGET of 128). */
    static final int LRU_SLACK_PER_CPU = 256;

    /**
     * The flow table's {@code max_entries}: the capacity asked for (or the default 65,536) plus the slack
     * of the kernel's LRU hash, which starts evicting before it is full: a CPU that finds fewer than 128
     * free entries on the shared list evicts to refill its own, and every CPU keeps a local free list of up
     * to 128. Measured (bench ingest): a table of exactly 100,000 entries under 100,000 live flows moved
     * 67% of them on their second pass (a cyclic scan over an LRU that evicts is a miss every time); with
     * 256 more entries, 0. So up to {@link #flowCapacity()} live flows keep their worker. Capped at the
     * program's maximum.
     */
    int tableEntries() {
        int want = flowCapacity == 0 ? SteerProgram.DEFAULT_FLOW_CAPACITY : flowCapacity;
        long entries = (long) want + (long) LRU_SLACK_PER_CPU * (possibleCpus() + 1);
        return (int) Math.min(entries, SteerProgram.MAX_FLOW_CAPACITY);
    }

    /** The CPUs the kernel sizes per-CPU lists for (/sys/devices/system/cpu/possible), at least the available. */
    static int possibleCpus() {
        int n = 0;
        try {
            String s = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/devices/system/cpu/possible")).trim();
            for (String part : s.split(",")) {
                String[] r = part.split("-");
                n += r.length == 2 ? Integer.parseInt(r[1].trim()) - Integer.parseInt(r[0].trim()) + 1 : 1;
            }
        } catch (java.io.IOException | RuntimeException e) {
            n = 0;
        }
        return Math.max(n, Runtime.getRuntime().availableProcessors());
    }

    @Override
    public String toString() {
        return "udp-gro " + (udpGro ? "on" : "off") + ", busy-poll " + busyPollMicros + " us, prefer-busy-poll "
                + (preferBusyPoll ? "on" : "off") + ", flow capacity " + (flowCapacity == 0 ? "default" : flowCapacity);
    }
}
