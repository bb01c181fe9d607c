package dev.reuseport.examples.bench.harness;

import dev.reuseport.Controller;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.examples.EchoServer;
import dev.reuseport.examples.Main;
import dev.reuseport.fleet.Fleet;
import dev.reuseport.fleet.FleetAgent;
import dev.reuseport.fleet.FleetConfig;
import dev.reuseport.fleet.RolloutCoordinator;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The processes of a fleet bench: a host (an echo group under its own load, with its fleet agent), a
 * coordinator, and how they are started as child JVMs of this JAR, each under a command prefix such as
 * {@code ip netns exec NS}.
 */
public final class FleetNode {
    private FleetNode() {
    }

    /**
     * Starts {@code bench <args>} of this JAR in a child JVM under {@code prefix}; its standard error is
     * this process's.
     *
     * @param prefix a command prefix (e.g. {@code ip netns exec NS}), or empty
     * @param jvm    JVM options
     * @param args   the bench subcommand and its options
     * @return the child
     * @throws IOException when it cannot start
     */
    public static Process bench(List<String> prefix, List<String> jvm, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(ChildJvm.javaBinary());
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /**
     * Copies a child's standard output to {@code out} line by line until it ends, then waits for it.
     *
     * @param p   the child
     * @param out where its lines go
     * @return its exit status
     * @throws IOException          when its output cannot be read
     * @throws InterruptedException when interrupted
     */
    public static int relay(Process p, PrintWriter out) throws IOException, InterruptedException {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.println(line);
                out.flush();
            }
        }
        return p.waitFor();
    }

    /**
     * A coordinator: drives every rollout of the service until it is killed.
     *
     * @param etcd    etcd client URLs
     * @param service the fleet's name
     * @param id      the coordinator's id
     * @return never returns normally
     */
    public static int coordinator(List<String> etcd, String service, String id) {
        try (Fleet f = Fleet.connect(etcd, service);
             RolloutCoordinator c = f.coordinator(id)) {
            while (true) {
                c.drive(Duration.ofSeconds(600));
            }
        }
    }

    /**
     * A host: a 2-worker echo group on {@code addr:7000} under its own load (a connection every 20 ms, 15
     * minutes at most), joined to the fleet with a 200 ms window; on the canary {@code h0}, round-robin makes
     * setups fail (the injected regression). Prints {@code READY <host>}, serves until a line {@code stop}
     * on standard input, then prints {@code CONN_FAILED <failed> <host> <connections>}.
     *
     * @param out     standard output
     * @param etcd    etcd client URLs
     * @param service the fleet's name
     * @param host    the host id
     * @param group   its host group
     * @param addr    the address it serves on
     * @return 0
     * @throws Exception when the group or the agent cannot start
     */
    public static int host(PrintWriter out, List<String> etcd, String service, String host, String group, String addr)
            throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong conns = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        try (ReuseportGroup g = ReuseportGroup.tcp().address(addr).port(7000).workers(2).open();
             EchoServer echo = new EchoServer(g, false, false);
             FleetAgent agent = FleetAgent.join(new FleetConfig(etcd, service, host, group,
                     Duration.ofMillis(200), Duration.ofSeconds(2)), g,
                     // p99 x10: a shared benchmark machine's scheduling noise is not a policy regression
                     Controller.Settings.builder().windows(2).p99Factor(10).build())) {
            Thread load = new Thread(() -> load(addr, stop, conns, failed));
            load.start();
            Thread regress = new Thread(() -> {
                while (!stop.get()) {
                    if (host.equals("h0") && agent.state() == Controller.State.ENFORCE
                            && g.policy().spec().equals("round-robin")) {
                        agent.recordSetupFailures(100);
                    }
                    if (!pause(50)) {
                        return;
                    }
                }
            });
            regress.setDaemon(true);
            regress.start();
            out.println("READY " + host);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && !line.equals("stop")) {
                // wait for stop
            }
            stop.set(true);
            load.join(5000);
            out.println("CONN_FAILED " + failed.get() + " " + host + " " + conns.get());
            out.flush();
        }
        return 0;
    }

    private static void load(String addr, AtomicBoolean stop, AtomicLong conns, AtomicLong failed) {
        byte[] msg = "ping".getBytes(StandardCharsets.US_ASCII);
        long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
        while (!stop.get() && System.nanoTime() < until) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(addr, 7000), 2000);
                s.setSoTimeout(2000);
                s.getOutputStream().write(msg);
                byte[] b = s.getInputStream().readNBytes(msg.length);
                if (b.length != msg.length) {
                    failed.incrementAndGet();
                }
            } catch (IOException e) {
                failed.incrementAndGet();
            }
            conns.incrementAndGet();
            if (!pause(20)) {
                return;
            }
        }
    }

    private static boolean pause(long ms) {
        try {
            Thread.sleep(ms);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
