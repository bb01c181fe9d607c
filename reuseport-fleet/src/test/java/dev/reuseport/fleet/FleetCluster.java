package dev.reuseport.fleet;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.Controller;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.Probes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** The test harness: one 3-member etcd cluster per test class, and agents on real TCP groups. */
final class FleetCluster implements AutoCloseable {
    static final Duration WINDOW = Duration.ofMillis(100);
    static final int K = 2;

    final LocalEtcd etcd;
    final List<FleetAgent> agents = new ArrayList<>();
    final List<ReuseportGroup> groups = new ArrayList<>();

    private FleetCluster(LocalEtcd etcd) {
        this.etcd = etcd;
    }

    static FleetCluster start() throws Exception {
        String why = LocalEtcd.unavailabilityCause();
        assumeTrue(why == null, () -> "skipped: " + why);
        // tmpfs when there is one: etcd fsyncs its log on every write, and a shared CI disk makes that the
        // slowest part of a test
        Path shm = Path.of("/dev/shm");
        Path dir = Files.isDirectory(shm) ? Files.createTempDirectory(shm, "fleet-etcd") : Files.createTempDirectory("fleet-etcd");
        return new FleetCluster(LocalEtcd.start(3, dir));
    }

    /** A host: a real 2-worker TCP group on loopback, joined as {@code host} in {@code group}. */
    FleetAgent host(String service, String host, String hostGroup) throws Exception {
        return host(service, host, hostGroup, etcd.endpoints());
    }

    /** A host as above that reaches etcd at {@code endpoints} (e.g. through an {@link EtcdLink}). */
    FleetAgent host(String service, String host, String hostGroup, List<String> endpoints) throws Exception {
        return host(service, host, hostGroup, endpoints, Duration.ofSeconds(2));
    }

    /** A host as above with its own status lease. */
    FleetAgent host(String service, String host, String hostGroup, List<String> endpoints, Duration lease)
            throws Exception {
        ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").port(0).workers(2).open();
        groups.add(g);
        assumeTrue(g.capabilities().isOn(Probes.STEERING), () -> "skipped: no BPF steering here: "
                + g.capabilities().feature(Probes.STEERING));
        FleetConfig c = new FleetConfig(endpoints, service, host, hostGroup, WINDOW, lease);
        FleetAgent a = FleetAgent.join(c, g, Controller.Settings.builder().windows(K).build());
        agents.add(a);
        return a;
    }

    static void await(String what, Duration max, BooleanSupplier ok) throws InterruptedException {
        await(what, max, ok, () -> "");
    }

    static void await(String what, Duration max, BooleanSupplier ok, java.util.function.Supplier<String> show)
            throws InterruptedException {
        long end = System.nanoTime() + max.toNanos();
        while (!ok.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + max.toMillis() + " ms waiting for " + what + "\n" + show.get());
            }
            Thread.sleep(20);
        }
    }

    /** Stops the hosts made so far (agents, then groups): a test's hosts do not outlive it. */
    void stopHosts() throws Exception {
        for (FleetAgent a : agents) {
            a.close();
        }
        for (ReuseportGroup g : groups) {
            g.close();
        }
        agents.clear();
        groups.clear();
    }

    @Override
    public void close() throws Exception {
        for (FleetAgent a : agents) {
            a.close();
        }
        for (ReuseportGroup g : groups) {
            g.close();
        }
        etcd.close();
    }
}
