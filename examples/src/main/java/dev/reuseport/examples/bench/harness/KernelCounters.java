package dev.reuseport.examples.bench.harness;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.NetworkInterface;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The network namespace's kernel counters ({@code /proc/net/netstat}, {@code /proc/net/snmp}) by
 * {@code "Group.Name"} (e.g. {@code TcpExt.ListenDrops}, {@code Udp.InErrors}), and the namespace checks
 * the scenarios that run inside {@code unshare -n} make first.
 */
public final class KernelCounters {
    private KernelCounters() {
    }

    /** Every counter of this namespace now; a file that cannot be read adds nothing (a diagnostic only). */
    public static Map<String, Long> read() {
        Map<String, Long> m = new TreeMap<>();
        for (String file : List.of("/proc/net/netstat", "/proc/net/snmp")) {
            try {
                List<String> lines = Files.readAllLines(Path.of(file));
                for (int i = 0; i + 1 < lines.size(); i += 2) {
                    String[] names = lines.get(i).split("\\s+");
                    String[] values = lines.get(i + 1).split("\\s+");
                    if (names.length != values.length || !names[0].equals(values[0])) {
                        continue;
                    }
                    String group = names[0].replace(":", "");
                    for (int j = 1; j < names.length; j++) {
                        try {
                            m.put(group + "." + names[j], Long.parseLong(values[j]));
                        } catch (NumberFormatException e) {
                            // not a counter
                        }
                    }
                }
            } catch (IOException e) {
                // counters are a diagnostic only
            }
        }
        return m;
    }

    /** One counter now, 0 when absent. */
    public static long read(String key) {
        return read().getOrDefault(key, 0L);
    }

    /** {@code after - before} of each of {@code keys} present in both, as {@code "Name delta"}, comma-separated. */
    public static String deltas(Map<String, Long> before, Map<String, Long> after, List<String> keys,
                                boolean withGroup) {
        StringBuilder c = new StringBuilder();
        for (String k : keys) {
            if (before.containsKey(k) && after.containsKey(k)) {
                c.append(c.length() == 0 ? "" : ", ").append(withGroup ? k : k.substring(k.indexOf('.') + 1))
                        .append(' ').append(after.get(k) - before.get(k));
            }
        }
        return c.toString();
    }

    /**
     * Brings lo up when it is down (as in a fresh {@code unshare -n}); a refusal message, or null to go on.
     * {@code wasDown[0]} says whether it was down.
     */
    public static String loopbackUp(PrintWriter out, boolean[] wasDown) throws IOException, InterruptedException {
        NetworkInterface lo = NetworkInterface.getByName("lo"); // null while down: no address yet
        wasDown[0] = lo == null || !lo.isUp();
        if (!wasDown[0]) {
            return null;
        }
        out.println("lo is down in this network namespace: running 'ip link set lo up'");
        Process p = new ProcessBuilder("ip", "link", "set", "lo", "up").redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "'ip link set lo up' did not finish within 10 s";
        }
        NetworkInterface now = NetworkInterface.getByName("lo");
        if (p.exitValue() != 0 || now == null || !now.isUp()) {
            return "'ip link set lo up' failed (exit " + p.exitValue() + ": " + said + "); run as root inside "
                    + "'unshare -n', or bring lo up first";
        }
        return null;
    }

    /** The target of a {@code /proc} namespace link, or null. */
    public static String link(String p) {
        try {
            return Files.readSymbolicLink(Path.of(p)).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** Brings lo up when it is down and says which namespace this is; a refusal, or null to go on. */
    public static String prepareNetwork(PrintWriter out) throws IOException, InterruptedException {
        boolean[] down = new boolean[1];
        String refusal = loopbackUp(out, down);
        if (refusal != null) {
            return refusal;
        }
        boolean wasDown = down[0];
        String self = link("/proc/self/ns/net");
        String init = link("/proc/1/ns/net");
        boolean hostNs = self != null && self.equals(init);
        out.printf("network namespace %s%s%n", self, hostNs
                ? ": the same as pid 1's; other processes' UDP drops would count in the Udp: InErrors delta (run "
                + "inside unshare -n for exact figures)"
                : wasDown ? " (private: lo was down, so nothing else uses it)" : " (not pid 1's)");
        return null;
    }
}
