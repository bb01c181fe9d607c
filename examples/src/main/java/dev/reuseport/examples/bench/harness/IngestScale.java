package dev.reuseport.examples.bench.harness;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How cost and balance grow with the number of workers, per policy: a UDP group of N workers on
 * 127.0.0.1 receives {@code flows} distinct flows sprayed by a raw-socket sender for a second (throughput
 * and balance, max/mean of the workers' datagrams), then the membership changes are timed (remove one
 * worker, switch the policy, which builds and publishes a new table, and restart the group's sockets),
 * and the memory the kernel charges for the group's BPF maps is read from fdinfo.
 */
public final class IngestScale {
    private IngestScale() {
    }

    /**
     * One cell of the table.
     *
     * @param policy    the group's policy
     * @param workers   N
     * @param rate      datagrams per second received over all workers
     * @param balance   max/mean of the workers' datagrams
     * @param openMs    time to open the group
     * @param removeMs  time to remove one worker (NaN for N = 1)
     * @param switchMs  time to switch the policy (to consistent, or from consistent to round-robin)
     * @param restartMs time to restart the group's sockets
     * @param mapBytes  memlock of the group's BPF maps
     * @param steering  what the group steers with
     */
    public record Cell(String policy, int workers, double rate, double balance, double openMs, double removeMs,
                       double switchMs, double restartMs, long mapBytes, String steering) {
    }

    /**
     * Runs every policy at every size and prints the table.
     *
     * @param out      where the table goes
     * @param c        the compiled C program (spray sender)
     * @param port     the port the groups bind
     * @param sizes    worker counts
     * @param policies policy specs
     * @param flows    distinct flows sprayed
     * @param seconds  traffic seconds per cell
     * @return the cells, in order
     * @throws Exception when a group fails to open
     */
    public static List<Cell> run(PrintWriter out, IngestC c, int port, int[] sizes, List<String> policies, int flows,
                                 double seconds) throws Exception {
        out.printf("%nscale (UDP, %d flows sprayed for %.1f s by one raw-socket sender; times of one change each)%n",
                flows, seconds);
        out.printf("%-12s %7s %9s %8s %9s %10s %10s %11s %11s %12s  %s%n", "policy", "workers", "M dgram/s",
                "max/mean", "open ms", "remove ms", "switch ms", "restart ms", "maps KiB", "KiB/worker", "steering");
        List<Cell> cells = new ArrayList<>();
        for (String spec : policies) {
            for (int n : sizes) {
                Cell cell = one(c, port, n, spec, flows, seconds);
                cells.add(cell);
                out.printf(Locale.ROOT, "%-12s %7d %9.3f %8.3f %9.2f %10.3f %10.3f %11.3f %11.1f %12.2f  %s%n",
                        spec, n, cell.rate / 1e6, cell.balance, cell.openMs, cell.removeMs, cell.switchMs,
                        cell.restartMs, cell.mapBytes / 1024.0, cell.mapBytes / 1024.0 / n, cell.steering);
                out.flush();
            }
        }
        return cells;
    }

    private static Cell one(IngestC c, int port, int n, String spec, int flows, double seconds) throws Exception {
        Map<Integer, BpfMaps.Info> before = BpfMaps.snapshot();
        long t0 = System.nanoTime();
        try (ReuseportGroup g = ReuseportGroup.udp().address(InetAddress.getLoopbackAddress()).port(port).workers(n)
                .policy(Policy.parse(spec)).receiveBuffer(1 << 20).open()) {
            double openMs = (System.nanoTime() - t0) / 1e6;
            long maps = BpfMaps.memlock(BpfMaps.added(before, BpfMaps.snapshot()));
            String steering = g.capabilities().steering();
            double rate;
            double balance;
            try (FlowReceivers rx = new FlowReceivers(g, 0)) {
                long a = rx.total();
                long[] w0 = rx.perWorker();
                long s0 = System.nanoTime();
                IngestC.run(c.command(-1, "spray", Integer.toString(port), Integer.toString(flows),
                        Double.toString(seconds)), (int) seconds + 30);
                Thread.sleep(50);
                long s1 = System.nanoTime();
                long[] w1 = rx.perWorker();
                rate = (rx.total() - a) * 1e9 / (s1 - s0);
                long[] d = new long[w1.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = w1[i] - w0[i];
                }
                balance = Stats.maxOverMean(d);
            }
            double removeMs = Double.NaN;
            if (n >= 2) {
                long r0 = System.nanoTime();
                g.removeWorker(g.slots()[n / 2]);
                removeMs = (System.nanoTime() - r0) / 1e6;
            }
            long p0 = System.nanoTime();
            g.policy(Policy.parse(spec.equals("consistent") ? "round-robin" : "consistent"));
            double switchMs = (System.nanoTime() - p0) / 1e6;
            long q0 = System.nanoTime();
            g.restart();
            double restartMs = (System.nanoTime() - q0) / 1e6;
            return new Cell(spec, n, rate, balance, openMs, removeMs, switchMs, restartMs, maps, steering);
        }
    }
}
