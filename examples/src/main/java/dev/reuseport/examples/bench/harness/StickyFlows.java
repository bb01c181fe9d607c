package dev.reuseport.examples.bench.harness;

import dev.reuseport.IngestOptions;
import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * Do live flows keep their worker under {@code sticky} when there are many? A UDP group with the sticky
 * policy and a flow table of {@code capacity} entries receives {@code flows} distinct flows (a raw-socket
 * sender gives each its own source address on 127.1.0.0/16 and port; paced in chunks, so no receive
 * buffer overflows), then the same flows again in the opposite order: a flow that reached another worker
 * the second time moved. The group's BPF maps and the memory the kernel charges for them are read from fdinfo.
 */
public final class StickyFlows {
    private StickyFlows() {
    }

    /**
     * The outcome of one run.
     *
     * @param flows    flows sent per pass
     * @param capacity the flow table's entries
     * @param seen1    flows received in pass 1
     * @param seen2    flows received in pass 2
     * @param moved    flows received in both passes, on another worker the second time
     * @param flowMap  the flow table as the kernel describes it (null when no BPF map was found)
     * @param memlock  bytes the kernel charges for all the group's maps
     * @param steering the group's steering (sticky needs BPF)
     * @param seconds  wall time of both passes
     */
    public record Outcome(long flows, long capacity, long seen1, long seen2, long moved, BpfMaps.Info flowMap,
                          long memlock, String steering, double seconds) {
        /**
         * Moved flows as a share of the flows seen in both passes.
         *
         * @return percent
         */
        public double movedPct() {
            long both = Math.min(seen1, seen2);
            return both == 0 ? Double.NaN : 100.0 * moved / both;
        }

        /**
         * One table row.
         *
         * @return the row text
         */
        public String row() {
            String map = flowMap == null ? "-" : String.format(Locale.ROOT, "LRU key %d B value %d B x %d = %.1f MiB",
                    flowMap.keySize(), flowMap.valueSize(), flowMap.maxEntries(), flowMap.memlock() / 1048576.0);
            return String.format(Locale.ROOT, "%9d %9d %9d %9d %9d %8.4f %6.1f  %s; group maps %.1f MiB; %s",
                    flows, capacity, seen1, seen2, moved, movedPct(), seconds, map, memlock / 1048576.0, steering);
        }
    }

    /** The table header matching {@link Outcome#row()}. */
    public static final String HEADER = String.format("%9s %9s %9s %9s %9s %8s %6s  %s", "flows", "capacity",
            "seen 1", "seen 2", "moved", "moved %", "s", "flow table (kernel fdinfo)");

    /**
     * Runs both passes.
     *
     * @param c        the compiled C program (raw-socket flow sender)
     * @param port     the group's port
     * @param workers  the group's workers
     * @param flows    distinct flows
     * @param capacity the sticky flow table's entries ({@link IngestOptions#flowCapacity(int)})
     * @return the outcome
     * @throws Exception when the group or the sender fails
     */
    public static Outcome run(IngestC c, int port, int workers, int flows, int capacity) throws Exception {
        Map<Integer, BpfMaps.Info> before = BpfMaps.snapshot();
        long t0 = System.nanoTime();
        try (ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(port)
                .workers(workers).policy(Policy.sticky()).receiveBuffer(4 << 20)
                .ingest(IngestOptions.defaults().flowCapacity(capacity)).open();
             FlowReceivers rx = new FlowReceivers(g, flows)) {
            Map<Integer, BpfMaps.Info> mine = BpfMaps.added(before, BpfMaps.snapshot());
            // the sticky table: the group's largest LRU hash with a 4-byte key (the capacity plus the LRU's slack)
            BpfMaps.Info table = mine.values().stream().filter(m -> m.type() == 9 && m.keySize() == 4
                    && m.maxEntries() >= capacity).max(java.util.Comparator.comparingLong(BpfMaps.Info::maxEntries))
                    .orElse(null);
            drive(c, port, flows, rx, 64 * workers, false);
            long[] done = rx.moved();
            rx.secondPass();
            // the second pass in the other order: a same-order replay would get the same round-robin choices
            // again after every eviction and hide the moves (live flows do not arrive in a fixed cycle)
            drive(c, port, flows, rx, 64 * workers, true);
            long[] m = rx.moved();
            return new Outcome(flows, capacity, done[0], m[1], m[2], table, BpfMaps.memlock(mine),
                    g.capabilities().steering(), (System.nanoTime() - t0) / 1e9);
        }
    }

    /** One pass: the sender sends a chunk and waits until the receivers have it all (or 2 s passed). */
    private static void drive(IngestC c, int port, int flows, FlowReceivers rx, int chunk, boolean reverse)
            throws Exception {
        long base = rx.total();
        Process p = new ProcessBuilder(c.command(-1, "flows", Integer.toString(port), "0", Integer.toString(flows),
                Integer.toString(chunk), reverse ? "rev" : "fwd")).redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
             OutputStream in = p.getOutputStream()) {
            long deadline = System.nanoTime() + 600_000_000_000L;
            String line;
            while ((line = out.readLine()) != null && System.nanoTime() < deadline) {
                if (!line.startsWith("CHUNK ")) {
                    continue;
                }
                long sent = Long.parseLong(line.substring(6).trim());
                long wait = System.nanoTime() + 2_000_000_000L;
                while (rx.total() - base < sent && System.nanoTime() < wait) {
                    java.util.concurrent.locks.LockSupport.parkNanos(20_000);
                }
                in.write('\n');
                in.flush();
                if (sent >= flows) {
                    break;
                }
            }
        } finally {
            IngestRun.stop(p);
        }
    }
}
