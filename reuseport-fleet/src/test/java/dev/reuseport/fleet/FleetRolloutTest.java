package dev.reuseport.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.Controller.State;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rollouts against a real 3-member etcd cluster, with agents on real groups (real sockets, real BPF):
 * stages promoted by windows the hosts report, a bad policy stopped at the canary and rolled back in one
 * transaction, bad input refused with nothing written, the fleet-wide fallback.
 */
@Tag("kernel")
@Timeout(120)
class FleetRolloutTest {
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

    private static List<FleetAgent> fleet(String service) throws Exception {
        return List.of(cluster.host(service, "h1", "a"), cluster.host(service, "h2", "a"),
                cluster.host(service, "h3", "b"), cluster.host(service, "h4", "b"));
    }

    static void joined(Fleet f, int n) throws InterruptedException {
        FleetCluster.await(n + " hosts publishing", Duration.ofSeconds(30), () -> f.statuses().size() == n);
    }

    static String show(Fleet f) {
        return f.rollout().line() + "\n" + String.join("\n", f.statusLines());
    }

    static boolean enforcedStep(FleetAgent a, String rollout) {
        return a.controller().group().audit().entries().stream()
                .anyMatch(l -> l.contains("\"event\":\"fleet-step\"") && l.contains("\"rollout\":\"" + rollout + "\"")
                        && l.contains("\"state\":\"ENFORCE\""));
    }

    @Test
    void stagesPromoteOnHostWindowsThroughAMemberKillAndACoordinatorLoss() throws Exception {
        List<FleetAgent> hosts = fleet("good");
        int killed = -1;
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "good");
             RolloutCoordinator c1 = f.coordinator("c1");
             RolloutCoordinator c2 = f.coordinator("c2")) {
            joined(f, 4);
            f.start(RolloutPlan.parse("r-good", "consistent", "ENFORCE", "hosts:h1;group:a;group:b", FleetCluster.K, ""));
            // two coordinators at once: only the one holding rollout-owner (a txn on its lease) writes
            Thread t1 = new Thread(() -> c1.drive(Duration.ofSeconds(60)));
            Thread t2 = new Thread(() -> c2.drive(Duration.ofSeconds(60)));
            t1.start();
            t2.start();
            FleetCluster.await("stage 1 applied", Duration.ofSeconds(30), () -> f.rollout().stage() >= 0, () -> show(f));
            String first = f.rollout().driver();
            RolloutCoordinator owner = first.equals("c1") ? c1 : c2;
            assertThat(c1.owns() ^ c2.owns()).as("exactly one coordinator holds the rollout").isTrue();
            // mid-stage: the etcd leader killed by pid (quorum holds on the other two; they elect a new one), and
            // the driving coordinator stops dead (no revoke)
            int leader = cluster.etcd.leader();
            assertThat(leader).as("a leader among the members").isBetween(0, 2);
            killed = leader;
            cluster.etcd.kill(leader);
            owner.abandon();
            (first.equals("c1") ? t1 : t2).join();
            (first.equals("c1") ? t2 : t1).join(60_000);
            RolloutState r = f.rollout();
            assertThat(r.phase()).as(() -> show(f)).isEqualTo("COMPLETED");
            assertThat(r.driver()).as("the other coordinator resumed from the record").isNotEqualTo(first);
            for (FleetAgent a : hosts) {
                assertThat(a.state()).isEqualTo(State.ENFORCE);
                assertThat(a.controller().group().policy().spec()).isEqualTo("consistent");
                assertThat(enforcedStep(a, "r-good")).as("audit of " + a.config().host()).isTrue();
            }
            assertThat(f.statuses().values()).allSatisfy(s -> assertThat(s.windows()).isGreaterThan(FleetCluster.K));
            assertThat(f.etcd.get(f.etcd.desiredHost("h1"))).as("canary key removed once group a runs it").isNull();
            // brought back: the member restarts on its data directory and catches up on what it missed
            cluster.etcd.restart(leader);
            killed = -1;
            try (io.etcd.jetcd.Client one = io.etcd.jetcd.Client.builder().endpoints(cluster.etcd.endpoint(leader)).build()) {
                Fleet alone = Fleet.over(one, "good");
                FleetCluster.await("the restarted member serves the completed record", Duration.ofSeconds(10), () -> {
                    try {
                        RolloutState back = alone.rollout();
                        return back != null && back.phase().equals("COMPLETED");
                    } catch (FleetException e) {
                        return false;
                    }
                });
            }
        } finally {
            if (killed >= 0) {
                cluster.etcd.restart(killed);
            }
        }
    }

    @Test
    void badPolicyOnTheCanaryNeverReachesAnotherHostAndRollsBack() throws Exception {
        List<FleetAgent> hosts = fleet("bad");
        FleetAgent canary = hosts.get(0);
        AtomicBoolean stop = new AtomicBoolean();
        Thread injector = new Thread(() -> {
            // the regression: connection setups fail on the canary once it enforces
            while (!stop.get()) {
                if (canary.state() == State.ENFORCE) {
                    canary.recordSetupFailures(100);
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "bad");
             RolloutCoordinator c = f.coordinator("c1")) {
            joined(f, 4);
            injector.start();
            f.start(RolloutPlan.parse("r-bad", "round-robin", "ENFORCE", "hosts:h1;group:a;group:b", 3, ""));
            assertThat(c.drive(Duration.ofSeconds(40))).as(() -> show(f)).isEqualTo("ROLLED_BACK");
            RolloutState r = f.rollout();
            assertThat(r.reason()).contains("host h1 regressed");
            // the rollback rewrote group a (the canary's group) in one transaction; group b was never touched
            FleetCluster.await("group a on the rollback version", Duration.ofSeconds(20),
                    () -> f.statuses().values().stream().filter(s -> s.hostGroup().equals("a"))
                            .allMatch(s -> s.applied().equals(r.version())), () -> show(f));
            assertThat(f.statuses().values()).filteredOn(s -> s.hostGroup().equals("b"))
                    .allSatisfy(s -> assertThat(s.applied()).isEqualTo("-"));
            for (FleetAgent a : hosts.subList(1, 4)) {
                assertThat(enforcedStep(a, "r-bad")).as(a.config().host() + " never enforced the bad policy").isFalse();
                assertThat(a.controller().group().policy().spec()).isEqualTo("kernel-hash");
            }
            assertThat(canary.controller().group().policy().spec()).isEqualTo("kernel-hash");
            assertThat(canary.controller().group().audit().entries()).anyMatch(l -> l.contains("fleet-regression"));
        } finally {
            stop.set(true);
            injector.join();
        }
    }

    @Test
    void badInputIsRefusedAndNothingIsWritten() throws Exception {
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "input")) {
            // a member, and no agent: nothing else writes under this service, so any write shows
            f.etcd.put(f.etcd.member("h1"), java.util.Map.of("group", "a"), 0);
            java.util.Map<String, Long> before = revisions(f);
            assertThatThrownBy(() -> RolloutPlan.parse("r", "fastest", "ENFORCE", "hosts:h1", 2, ""))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("fastest").hasMessageContaining("accepted");
            assertThatThrownBy(() -> RolloutPlan.parse("r", "consistent", "ENFORCE", " ", 2, ""))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("no stages");
            assertThatThrownBy(() -> RolloutPlan.parse("r", "consistent", "ENFORCE", "hosts:h1", 2, "25:00-26:00"))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("25:00-26:00");
            assertThatThrownBy(() -> f.start(RolloutPlan.parse("r", "consistent", "ENFORCE", "group:nosuch", 2, "")))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("nosuch").hasMessageContaining("[a]");
            assertThatThrownBy(() -> f.start(RolloutPlan.parse("r", "consistent", "ENFORCE", "hosts:h9", 2, "")))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("h9");
            assertThatThrownBy(() -> f.start(new RolloutPlan("r", "consistent", State.ENFORCE, List.of(), 2, List.of())))
                    .isInstanceOf(FleetInputException.class).hasMessageContaining("no stages");
            assertThat(f.rollout()).as("no rollout record written").isNull();
            assertThat(f.etcd.under(f.etcd.prefix + "desired/")).as("no desired key written").isEmpty();
            assertThat(revisions(f)).as("nothing under the service changed").isEqualTo(before);
        }
    }

    /** Every key under a service with its mod revision. */
    private static java.util.Map<String, Long> revisions(Fleet f) throws Exception {
        java.util.Map<String, Long> m = new java.util.TreeMap<>();
        for (io.etcd.jetcd.KeyValue kv : f.etcd.client.getKVClient().get(Etcd.bs(f.etcd.prefix),
                io.etcd.jetcd.options.GetOption.builder().isPrefix(true).build()).get().getKvs()) {
            m.put(Etcd.str(kv.getKey()), kv.getModRevision());
        }
        return m;
    }

    @Test
    void freezeWindowHoldsPromotionAndFleetFallbackReachesEveryHost() throws Exception {
        List<FleetAgent> hosts = fleet("freeze");
        try (Fleet f = Fleet.connect(cluster.etcd.endpoints(), "freeze");
             RolloutCoordinator c = f.coordinator("c1")) {
            joined(f, 4);
            // inside 10:00-11:00 UTC by the coordinator's clock: the first stage is not even applied
            c.clock(Clock.fixed(Instant.parse("2026-11-30T10:30:00Z"), ZoneOffset.UTC));
            f.start(RolloutPlan.parse("r-freeze", "consistent", "ENFORCE", "hosts:h1;group:a", FleetCluster.K,
                    "10:00-11:00"));
            assertThat(c.drive(Duration.ofMillis(1500))).isEqualTo("RUNNING");
            assertThat(f.rollout().stage()).isEqualTo(-1);
            f.abort("freeze test");
            assertThat(f.rollout().phase()).isEqualTo("ABORTED");

            long t0 = System.nanoTime();
            String v = f.fallback("incident");
            FleetCluster.await("every host on the fallback", Duration.ofSeconds(10),
                    () -> f.statuses().values().stream().filter(s -> s.applied().equals(v)
                            && s.state().equals("FALLBACK") && s.policy().equals("kernel-hash")).count() == 4, () -> show(f));
            System.out.println("fleet fallback reached 4 hosts in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            for (FleetAgent a : hosts) {
                assertThat(a.state()).isEqualTo(State.FALLBACK);
            }
            f.release();
        }
    }
}
