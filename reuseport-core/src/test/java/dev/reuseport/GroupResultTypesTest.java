package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.bpf.Probes;
import dev.reuseport.testkit.KernelAssumptions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The methods whose names and types say what they return (issue 12): {@code applyPolicy} a
 * {@link PolicyChange}, {@code fallbackToKernelHash} the {@link Duration} the switch took,
 * {@code controllerState} a {@link ControlState}; each on a real group with the steering program, with
 * traffic proving the policy reported is the one in force, and the deprecated alias beside it still
 * answering as before.
 */
@Tag("kernel")
@Timeout(60)
class GroupResultTypesTest {
    private static final int WORKERS = 4;

    @BeforeAll
    static void steeringIsAvailable() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        // sk_reuseport programs are in the kernel from 4.19 on: as root there a probe saying no is a bug
        KernelAssumptions.require("eBPF steering", 4, 19, Probes.steeringAvailable(f), f::toString);
    }

    private static ReuseportGroup open() throws ReuseportException {
        return ReuseportGroup.tcp().address(TestTraffic.LO).workers(WORKERS).open();
    }

    @Test
    void applyPolicyReportsThePolicyBeforeAndTheTableVersionAfter() throws Exception {
        try (ReuseportGroup g = open(); TestTraffic t = new TestTraffic(g)) {
            Policy before = g.policy();
            int versionBefore = g.tableVersion();
            PolicyChange rr = g.applyPolicy(Policy.roundRobin());
            assertThat(rr.previous().spec()).isEqualTo(before.spec()).isEqualTo("kernel-hash");
            assertThat(rr.requested()).isEqualTo(Policy.roundRobin());
            assertThat(rr.inForce().spec()).isEqualTo("round-robin").isEqualTo(g.policy().spec());
            assertThat(rr.applied()).isTrue();
            assertThat(rr.tableVersion()).isEqualTo(g.tableVersion()).isGreaterThan(versionBefore);
            assertThat(rr.capabilities().steering()).isEqualTo("bpf round-robin").isEqualTo(g.capabilities().steering());
            assertThat(rr.took()).isPositive().isLessThan(Duration.ofSeconds(10));
            // the policy it reports is the one that steers: round-robin spreads exactly
            long[] c = t.connect(4 * WORKERS);
            for (int s = 0; s < WORKERS; s++) {
                assertThat(c[s]).as("connections on slot %d under round-robin", s).isEqualTo(4);
            }

            PolicyChange back = g.applyPolicy(Policy.kernelHash());
            assertThat(back.previous().spec()).as("the policy before this change").isEqualTo("round-robin");
            assertThat(back.inForce().spec()).isEqualTo("kernel-hash").isEqualTo(g.policy().spec());
            assertThat(back.tableVersion()).isEqualTo(g.tableVersion()).isGreaterThan(rr.tableVersion());
        }
    }

    @Test
    @SuppressWarnings("deprecation")
    void deprecatedPolicyStillReturnsTheCapabilityReport() throws Exception {
        try (ReuseportGroup g = open()) {
            int versionBefore = g.tableVersion();
            Capabilities c = g.policy(Policy.consistent());
            assertThat(c.steering()).isEqualTo("bpf consistent");
            assertThat(c).isEqualTo(g.capabilities());
            assertThat(g.policy()).isEqualTo(Policy.consistent());
            assertThat(g.tableVersion()).isGreaterThan(versionBefore);
        }
    }

    @Test
    void fallbackToKernelHashReturnsTheTimeTheSwitchTook() throws Exception {
        try (ReuseportGroup g = open()) {
            g.applyPolicy(Policy.roundRobin());
            int version = g.tableVersion();
            long before = System.nanoTime();
            Duration took = g.fallbackToKernelHash("test: the switch is timed");
            long wall = System.nanoTime() - before;
            assertThat(took).isPositive();
            assertThat(took.toNanos()).as("within the call's own wall time").isLessThanOrEqualTo(wall);
            assertThat(g.policy()).isEqualTo(Policy.kernelHash());
            assertThat(g.capabilities().steeringReason()).isEqualTo("fallback: test: the switch is timed");
            assertThat(g.tableVersion()).as("pass mode is a new table version").isGreaterThan(version);
        }
    }

    @Test
    @SuppressWarnings("deprecation")
    void deprecatedFallbackStillReturnsTheInstantOfTheSwitch() throws Exception {
        try (ReuseportGroup g = open()) {
            g.applyPolicy(Policy.consistent());
            long before = System.nanoTime();
            long inForce = g.fallback("test: the old signature");
            long after = System.nanoTime();
            assertThat(inForce).isBetween(before, after);
            assertThat(g.policy()).isEqualTo(Policy.kernelHash());
        }
    }

    @Test
    @SuppressWarnings("deprecation")
    void controllerStateIsAnEnumAndTheTextAliasFollowsIt() throws Exception {
        try (ReuseportGroup g = open()) {
            assertThat(g.controllerState()).isEqualTo(ControlState.NONE);
            assertThat(g.controlState()).isEqualTo("-");
            try (Controller c = Controller.manual(g, Policy.consistent(), Controller.Settings.defaults())) {
                assertThat(g.controllerState()).isEqualTo(ControlState.OBSERVE);
                c.to(Controller.State.SHADOW, "test: shadow the candidate");
                assertThat(g.controllerState()).isEqualTo(ControlState.SHADOW);
                assertThat(g.controlState()).isEqualTo("SHADOW");
                c.to(Controller.State.FALLBACK, "test: fall back");
                assertThat(g.controllerState()).isEqualTo(ControlState.FALLBACK);
                assertThat(c.lastFallbackNanos()).as("the controller times its fallback").isPositive();
            }
            assertThat(g.controllerState()).as("after the controller closed").isEqualTo(ControlState.NONE);
        }
    }

    @Test
    void everyControllerStateHasAControlState() {
        for (Controller.State s : Controller.State.values()) {
            assertThat(ControlState.valueOf(s.name()).name()).isEqualTo(s.name());
        }
        assertThat(ControlState.values()).hasSize(Controller.State.values().length + 1);
    }
}
