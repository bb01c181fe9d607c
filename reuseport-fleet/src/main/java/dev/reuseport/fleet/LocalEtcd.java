package dev.reuseport.fleet;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A throwaway etcd cluster of real {@code etcd} processes (Debian's {@code etcd-server}), for tests and
 * benchmarks: each member has its own data directory, its own client and peer ports, and is stopped,
 * killed and restarted by its pid. Members may run inside network namespaces (a command prefix such as
 * {@code ip netns exec NS}). Heartbeat 50 ms and election timeout 500 ms, so a lost leader is replaced
 * within about a second.
 */
public final class LocalEtcd implements AutoCloseable {
    private static final String BINARY = "/usr/bin/etcd";

    private final Path dir;
    private final List<String> hosts;
    private final List<List<String>> prefixes;
    private final int[] clientPorts;
    private final int[] peerPorts;
    private final Process[] procs;
    private final String initialCluster;

    private LocalEtcd(Path dir, List<String> hosts, List<List<String>> prefixes, int[] clientPorts, int[] peerPorts) {
        this.dir = dir;
        this.hosts = List.copyOf(hosts);
        this.prefixes = List.copyOf(prefixes);
        this.clientPorts = clientPorts;
        this.peerPorts = peerPorts;
        this.procs = new Process[hosts.size()];
        List<String> ic = new ArrayList<>();
        for (int i = 0; i < hosts.size(); i++) {
            ic.add("m" + i + "=http://" + hosts.get(i) + ":" + peerPorts[i]);
        }
        this.initialCluster = String.join(",", ic);
    }

    /**
     * Why etcd cannot be started here.
     *
     * @return null when {@code /usr/bin/etcd} is there, else the reason and how to install it
     */
    public static String unavailabilityCause() {
        return Files.isExecutable(Path.of(BINARY)) ? null
                : BINARY + " is missing; install Debian's etcd-server (scripts/env.sh does)";
    }

    /**
     * Starts {@code members} members on loopback, on free ports, and waits until each is healthy.
     *
     * @param members how many, 1 to 7
     * @param dir     a directory for the data directories and logs (created if missing)
     * @return the running cluster
     * @throws IOException when a member does not start or does not become healthy within 20 s
     */
    public static LocalEtcd start(int members, Path dir) throws IOException {
        List<String> hosts = new ArrayList<>();
        List<List<String>> prefixes = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            hosts.add("127.0.0.1");
            prefixes.add(List.of());
        }
        return start(hosts, prefixes, dir, null);
    }

    /**
     * Starts one member per address, each behind its own command prefix (e.g. {@code ip netns exec NS}).
     *
     * @param hosts    the members' addresses
     * @param prefixes one command prefix per member (empty for none)
     * @param dir      a directory for the data directories and logs
     * @param port     the client port of every member (peer port is one more), or null for free loopback ports
     * @return the running cluster
     * @throws IOException when a member does not start or does not become healthy within 20 s
     */
    public static LocalEtcd start(List<String> hosts, List<List<String>> prefixes, Path dir, Integer port)
            throws IOException {
        if (unavailabilityCause() != null) {
            throw new IOException(unavailabilityCause());
        }
        if (hosts.isEmpty() || hosts.size() > 7 || prefixes.size() != hosts.size()) {
            throw new IllegalArgumentException("members " + hosts.size() + "; accepted: 1..7, one prefix each");
        }
        int n = hosts.size();
        int[] cp = new int[n];
        int[] pp = new int[n];
        for (int i = 0; i < n; i++) {
            cp[i] = port != null ? port : freePort();
            pp[i] = port != null ? port + 1 : freePort();
        }
        Files.createDirectories(dir);
        LocalEtcd c = new LocalEtcd(dir, hosts, prefixes, cp, pp);
        try {
            for (int i = 0; i < n; i++) {
                c.launch(i);
            }
            for (int i = 0; i < n; i++) {
                c.awaitHealthy(i, 20_000);
            }
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private void launch(int i) throws IOException {
        String h = hosts.get(i);
        List<String> cmd = new ArrayList<>(prefixes.get(i));
        cmd.addAll(List.of(BINARY, "--name", "m" + i, "--data-dir", dir.resolve("m" + i).toString(),
                "--listen-client-urls", "http://" + h + ":" + clientPorts[i],
                "--advertise-client-urls", "http://" + h + ":" + clientPorts[i],
                "--listen-peer-urls", "http://" + h + ":" + peerPorts[i],
                "--initial-advertise-peer-urls", "http://" + h + ":" + peerPorts[i],
                "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "reuseport-" + dir.getFileName(),
                "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("m" + i + ".log").toFile()));
        procs[i] = pb.start();
    }

    /**
     * Waits until a member answers {@code /health} with true.
     *
     * @param i        the member
     * @param millis   how long at most
     * @throws IOException when it does not, with the tail of its log
     */
    public void awaitHealthy(int i, long millis) throws IOException {
        long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < end) {
            if (procs[i] != null && !procs[i].isAlive()) {
                throw new IOException("etcd member m" + i + " exited " + procs[i].exitValue() + ": " + logTail(i));
            }
            try {
                HttpURLConnection c = (HttpURLConnection) URI.create(endpoint(i) + "/health").toURL().openConnection();
                c.setConnectTimeout(300);
                c.setReadTimeout(500);
                try (var in = c.getInputStream()) {
                    if (new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\"true\"")) {
                        return;
                    }
                } finally {
                    c.disconnect();
                }
            } catch (IOException e) {
                // not yet
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for etcd m" + i, e);
            }
        }
        throw new IOException("etcd member m" + i + " not healthy after " + millis + " ms: " + logTail(i));
    }

    private String logTail(int i) {
        try {
            List<String> l = Files.readAllLines(dir.resolve("m" + i + ".log"));
            return String.join(" | ", l.subList(Math.max(0, l.size() - 5), l.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /**
     * Every member's client URL.
     *
     * @return {@code http://HOST:PORT} per member
     */
    public List<String> endpoints() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < hosts.size(); i++) {
            out.add(endpoint(i));
        }
        return out;
    }

    /**
     * One member's client URL.
     *
     * @param i the member
     * @return {@code http://HOST:PORT}
     */
    public String endpoint(int i) {
        return "http://" + hosts.get(i) + ":" + clientPorts[i];
    }

    /**
     * The member that leads the cluster now, as its members report it (etcd's maintenance status).
     *
     * @return the leader's index, or -1 when no running member names a leader that is running
     */
    public int leader() {
        List<String> ids = new ArrayList<>();
        String leader = null;
        for (int i = 0; i < hosts.size(); i++) {
            String id = null;
            if (pid(i) > 0) {
                try {
                    HttpURLConnection c = (HttpURLConnection) URI.create(endpoint(i) + "/v3/maintenance/status").toURL()
                            .openConnection();
                    c.setConnectTimeout(300);
                    c.setReadTimeout(1000);
                    c.setRequestMethod("POST");
                    c.setDoOutput(true);
                    c.getOutputStream().write("{}".getBytes(StandardCharsets.UTF_8));
                    try (var in = c.getInputStream()) {
                        String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                        id = jsonField(json, "member_id");
                        String l = jsonField(json, "leader");
                        if (l != null && !"0".equals(l)) {
                            leader = l;
                        }
                    } finally {
                        c.disconnect();
                    }
                } catch (IOException e) {
                    // not answering: not the leader
                }
            }
            ids.add(id);
        }
        return leader == null ? -1 : ids.indexOf(leader);
    }

    private static String jsonField(String json, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\"\\s*:\\s*\"?(\\d+)").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    /**
     * A member's pid.
     *
     * @param i the member
     * @return its pid, or -1 when it is not running
     */
    public long pid(int i) {
        return procs[i] != null && procs[i].isAlive() ? procs[i].pid() : -1;
    }

    /**
     * Kills a member with SIGKILL, by its pid, and waits for it to exit.
     *
     * @param i the member
     */
    public void kill(int i) {
        Process p = procs[i];
        if (p != null) {
            p.destroyForcibly();
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Starts a killed member again on its data directory and waits until it is healthy.
     *
     * @param i the member
     * @throws IOException when it does not become healthy within 20 s
     */
    public void restart(int i) throws IOException {
        kill(i);
        launch(i);
        awaitHealthy(i, 20_000);
    }

    /** Kills every member by pid and deletes the data directories. */
    @Override
    public void close() {
        for (int i = 0; i < procs.length; i++) {
            kill(i);
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).filter(p -> !p.toString().endsWith(".log"))
                    .forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.getLogger("dev.reuseport.fleet").log(System.Logger.Level.DEBUG, "cleanup " + dir + ": " + e);
        }
    }
}
