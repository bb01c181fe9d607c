package dev.reuseport.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.Controller.State;
import dev.reuseport.testkit.ChildJvm;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The faults a fleet must survive, each against a real 3-member etcd cluster with agents on real groups:
 * a host cut from etcd mid-stage, a coordinator process killed with SIGKILL while a second one waits, and
 * hosts whose clocks are skewed or stopped. (An etcd member killed mid-rollout, a bad policy on the canary
 * and bad input are in {@link FleetRolloutTest}.)
 */
@Tag("kernel")
@Timeout(90)
class FleetFaultTest {
    private static FleetCluster cluster;

    @BeforeAll
    static void up() throws Exception {
        cluster = FleetCluster.start();
    }

    @AfterAll
    static void down() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @AfterEach
    void stopHosts() throws Exception {
        if (cluster != null) {
            cluster.stopHosts();
        }
    }

    private static String show(Fleet f) {
        return FleetRolloutTest.show(f);
    }

    private static boolean audited(FleetAgent a, String event) {
        return a.controller().group().audit().entries().stream().anyMatch(l -> l.contains("\"event\":\"" + event + "\""));
    }

    /**
     * Partition: h2 reaches etcd only through a TCP link the test cuts once the canary stage is applied
     * (silently: nothing passes, nothing is reset; see {@link EtcdLink}). Stage 2 (group a) needs h2: it must not promote while h2
     * is silent, not even after h2's status lease ran out; h2 keeps serving on what it ran; once the link is
     * back, h2 reports its offline windows and the rollout completes.
     */
    @Test
    void aHostCutFromEtcdMidStageHoldsTheStageServesOnAndRejoinsAndReports() throws Exception {
        AtomicReference<String> phase = new AtomicReference<>();
        long t0 = System.nanoTime();
        try (EtcdLink link = new EtcdLink(cluster.etcd.endpoints());
             Fleet f = Fleet.connect(cluster.etcd.endpoints(), "part");
             RolloutCoordinator c = f.coordinator("c1")) {
            FleetAgent h1 = cluster.host("part", "h1", "a");
            // a 1 s status lease: h2 goes silent in the fleet's view 1 s after the cut
            FleetAgent h2 = cluster.host("part", "h2", "a", link.endpoints(), Duration.ofSeconds(1));
            FleetAgent h3 = cluster.host("part", "h3", "b");
            FleetRolloutTest.joined(f, 3);
            long joinedAt = System.nanoTime();
            f.start(RolloutPlan.parse("r-part", "consistent", "ENFORCE", "hosts:h1;group:a;group:b", FleetCluster.K, ""));
            Thread driver = new Thread(() -> phase.set(c.drive(Duration.ofSeconds(60))));
            driver.start();
            FleetCluster.await("the canary stage applied", Duration.ofSeconds(20), () -> f.rollout().stage() >= 0,
                    () -> show(f));
            State before = h2.state();
            String policyBefore = h2.controller().group().policy().spec();
            long windowsAtCut = h2.windows();
            long cutAt = System.nanoTime();
            link.cut();
            FleetCluster.await("h2 silent (its status lease ran out)", Duration.ofSeconds(10),
                    () -> !f.statuses().containsKey("h2"), () -> show(f));
            long silentAt = System.nanoTime();
            assertThat(f.statusLines()).anyMatch(l -> l.startsWith("h2") && l.contains("SILENT"));
            // the gates of h1 (stage 1) and of group a without h2 pass within a few windows: hold well past that
            InetSocketAddress served = h2.controller().group().localAddress();
            long holdUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1200);
            int connects = 0;
            while (System.nanoTime() < holdUntil) {
                RolloutState r = f.rollout();
                assertThat(r.running()).as(() -> show(f)).isTrue();
                assertThat(r.stage()).as("no promotion past the silent host h2\n" + show(f)).isLessThanOrEqualTo(1);
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", served.getPort()), 1000);
                    connects++;
                }
                assertThat(h2.connected()).isFalse();
                assertThat(h2.state()).as("h2 keeps what it served").isEqualTo(before);
                assertThat(h2.controller().group().policy().spec()).isEqualTo(policyBefore);
                Thread.sleep(100);
            }
            // the host's own windows (its controller's, on which a local fallback runs) never waited for etcd
            assertThat(connects).as("a loop of 100 ms kept its pace").isGreaterThanOrEqualTo(6);
            assertThat(h2.windows() - windowsAtCut).as("h2's windows while cut (100 ms each)").isGreaterThanOrEqualTo(10);
            assertThat(h2.offlineWindows()).isGreaterThan(0);
            long healAt = System.nanoTime();
            link.heal();
            FleetCluster.await("h2 back, reporting its offline windows", Duration.ofSeconds(20),
                    () -> f.statuses().containsKey("h2") && f.statuses().get("h2").offlineWindows() > 0, () -> show(f));
            long backAt = System.nanoTime();
            assertThat(audited(h2, "fleet-disconnected")).isTrue();
            assertThat(audited(h2, "fleet-connected")).isTrue();
            driver.join(30_000);
            assertThat(phase.get()).as(() -> show(f)).isEqualTo("COMPLETED");
            for (FleetAgent a : List.of(h1, h2, h3)) {
                assertThat(a.state()).isEqualTo(State.ENFORCE);
                assertThat(a.controller().group().policy().spec()).isEqualTo("consistent");
            }
            System.out.println("partition: joined after " + (joinedAt - t0) / 1_000_000 + " ms, cut "
                    + (cutAt - joinedAt) / 1_000_000 + " ms later, silent after "
                    + (silentAt - cutAt) / 1_000_000 + " ms, healed after " + (healAt - cutAt) / 1_000_000
                    + " ms, back " + (backAt - healAt) / 1_000_000 + " ms after; held " + connects + " connects to h2 while cut; h2 reported "
                    + f.statuses().get("h2").offlineWindows() + " offline windows");
        }
    }

    /**
     * A coordinator in its own JVM drives; a second one (here) drives at the same time and must not write
     * while the first holds the rollout; the first is killed with {@code kill -9} by pid mid-rollout, and the
     * second takes over when the killed one's lease runs out and resumes from the record in etcd: the next
     * stage, the next step, no stage applied twice.
     */
    @Test
    void aCoordinatorKilledBySigkillIsResumedFromEtcdAndTheOtherNeverWroteMeanwhile() throws Exception {
        FleetAgent h1 = cluster.host("kill", "h1", "a");
        FleetAgent h2 = cluster.host("kill", "h2", "a");
        FleetAgent h3 = cluster.host("kill", "h3", "b");
        List<long[]> writes = Collections.synchronizedList(new ArrayList<>()); // mod revision, stage, step
        List<String> drivers = Collections.synchronizedList(new ArrayList<>());
        Path log = Files.createTempFile("fleet-child-coordinator", ".log");
        AtomicReference<String> phase = new AtomicReference<>();
        Process child = null;
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "kill");
             RolloutCoordinator c2 = f.coordinator("c2");
             Watch.Watcher w = f.etcd.client.getWatchClient().watch(Etcd.bs(f.etcd.rollout()), Watch.listener(r -> {
                 for (WatchEvent e : r.getEvents()) {
                     if (e.getEventType() == WatchEvent.EventType.PUT) {
                         Map<String, String> m = Fields.decode(e.getKeyValue().getValue().getBytes());
                         writes.add(new long[] {e.getKeyValue().getModRevision(), Fields.num(m, "stage", -9),
                                 Fields.num(m, "step", -9)});
                         drivers.add(m.get("driver") + " " + m.get("phase"));
                     }
                 }
             }))) {
            FleetRolloutTest.joined(f, 3);
            f.start(RolloutPlan.parse("r-kill", "consistent", "ENFORCE", "hosts:h1;group:a;group:b", 3, ""));
            List<String> java = ChildJvm.javaCommand(ChildCoordinator.class,
                    String.join(",", cluster.etcd.endpoints()), "kill", "child");
            java.addAll(1, List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"));
            child = new ProcessBuilder(java)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Process ch = child;
            FleetCluster.await("the child coordinator drives the canary stage", Duration.ofSeconds(40),
                    () -> f.rollout().stage() >= 0, () -> show(f) + "\nchild alive " + ch.isAlive() + ": " + read(log));
            assertThat(f.rollout().driver()).isEqualTo("child");
            // two coordinators at once: c2 drives too, and only the holder of rollout-owner writes
            Thread second = new Thread(() -> phase.set(c2.drive(Duration.ofSeconds(40))));
            second.start();
            FleetCluster.await("the child applies stage 2 while c2 tries", Duration.ofSeconds(20),
                    () -> f.rollout().stage() >= 1, () -> show(f));
            assertThat(c2.owns()).isFalse();
            assertThat(f.etcd.fields(f.etcd.owner()).get("owner")).startsWith("child@");
            long pid = child.pid();
            assertThat(new ProcessBuilder("kill", "-9", String.valueOf(pid)).start().waitFor()).isZero();
            assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);
            // a write the child sent before it died is applied by now; c2 cannot write before the lease ends (1 s)
            Thread.sleep(200);
            io.etcd.jetcd.KeyValue atKill = f.etcd.get(f.etcd.rollout());
            RolloutState killed = RolloutState.from(Fields.decode(atKill.getValue().getBytes()));
            assertThat(killed.running()).as("killed mid-rollout: " + killed.line()).isTrue();
            second.join(40_000);
            assertThat(phase.get()).as(() -> show(f)).isEqualTo("COMPLETED");
            RolloutState done = f.rollout();
            assertThat(done.driver()).isEqualTo("c2");
            Thread.sleep(200); // the watch's last events
            List<String> by = new ArrayList<>(drivers);
            List<long[]> ws = new ArrayList<>(writes);
            long rev = atKill.getModRevision();
            long[] firstAfter = null;
            for (int i = 0; i < ws.size(); i++) {
                String d = by.get(i).split(" ")[0];
                if (ws.get(i)[0] <= rev) {
                    assertThat(d).as("writes while the child lived: " + by).isIn("-", "child");
                } else {
                    assertThat(d).as("writes after the kill: " + by).isEqualTo("c2");
                    if (firstAfter == null) {
                        firstAfter = ws.get(i);
                    }
                }
            }
            assertThat(firstAfter).as("c2 wrote after the kill: " + by).isNotNull();
            if (killed.stage() < 2) {
                assertThat(firstAfter[1]).as("c2 resumed at the next stage: " + by).isEqualTo(killed.stage() + 1);
                assertThat(firstAfter[2]).as("c2 resumed at the next step: " + by).isEqualTo(killed.step() + 1);
            } else { // killed after the last stage was applied: c2's one write completes it
                assertThat(firstAfter[1]).as("c2 resumed at the last stage: " + by).isEqualTo(killed.stage());
                assertThat(firstAfter[2]).as("c2 resumed at the step: " + by).isEqualTo(killed.step());
            }
            for (FleetAgent a : List.of(h1, h2, h3)) {
                assertThat(a.state()).isEqualTo(State.ENFORCE);
                assertThat(FleetRolloutTest.enforcedStep(a, "r-kill")).isTrue();
            }
            System.out.println("kill -9 of coordinator pid " + pid + " at " + killed.line() + "; writes " + by);
        } finally {
            if (child != null) {
                child.destroyForcibly();
                child.waitFor();
            }
            Files.deleteIfExists(log);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    /**
     * Clock skew: one host's clock runs 6 h ahead, another's is stopped a day ago. The gates count the
     * windows the hosts report, so the rollout completes as on any fleet; the skewed times are in the
     * statuses (the injection is real) and nothing reads them.
     */
    @Test
    void hostClocksSkewedOrStoppedDoNotMatterGatesCountReportedWindows() throws Exception {
        Instant stopped = Instant.now().minus(Duration.ofDays(1));
        FleetAgent ahead = cluster.host("skew", "h1", "a").clock(Clock.offset(Clock.systemUTC(), Duration.ofHours(6)));
        FleetAgent frozen = cluster.host("skew", "h2", "a").clock(Clock.fixed(stopped, ZoneOffset.UTC));
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "skew");
             RolloutCoordinator c = f.coordinator("c1")) {
            FleetRolloutTest.joined(f, 2);
            FleetCluster.await("the skewed clocks in the statuses", Duration.ofSeconds(10), () -> {
                Map<String, String> a = f.etcd.fields(f.etcd.status("h1"));
                Map<String, String> b = f.etcd.fields(f.etcd.status("h2"));
                return a != null && b != null
                        && Instant.parse(a.get("time")).isAfter(Instant.now().plus(Duration.ofHours(5)))
                        && Instant.parse(b.get("time")).equals(stopped);
            }, () -> show(f));
            f.start(RolloutPlan.parse("r-skew", "consistent", "ENFORCE", "hosts:h1;group:a", FleetCluster.K, ""));
            assertThat(c.drive(Duration.ofSeconds(30))).as(() -> show(f)).isEqualTo("COMPLETED");
            for (FleetAgent a : List.of(ahead, frozen)) {
                assertThat(a.state()).isEqualTo(State.ENFORCE);
                assertThat(a.controller().group().policy().spec()).isEqualTo("consistent");
                assertThat(FleetRolloutTest.enforcedStep(a, "r-skew")).isTrue();
            }
            assertThat(f.etcd.fields(f.etcd.status("h2")).get("time")).isEqualTo(stopped.toString());
        }
    }
}
