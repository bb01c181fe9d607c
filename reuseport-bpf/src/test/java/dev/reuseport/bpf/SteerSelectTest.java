package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.SteerProgram.Mode;
import dev.reuseport.bpf.SteerProgram.SlotCounters;
import dev.reuseport.bpf.TestGroup.Proto;
import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.KernelAssumptions;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The steering program selects the socket in the chosen slot, falls back to the kernel hash when that
 * slot is empty, and attaches and detaches as a whole group; from Java, what the kernel's
 * {@code selftests/bpf/prog_tests/select_reuseport.c} and {@code selftests/net/reuseport_bpf.c} check.
 */
@Tag("kernel")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SteerSelectTest {
    private static final InetAddress V4 = address("127.0.0.1");
    private static final InetAddress V6 = address("::1");

    @BeforeAll
    static void steeringIsAvailable() {
        KernelSupport.requireSteering();
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<Arguments> protocolsAndFamilies() {
        return Stream.of(Arguments.of(Proto.TCP, "127.0.0.1"), Arguments.of(Proto.UDP, "127.0.0.1"),
                Arguments.of(Proto.TCP, "::1"), Arguments.of(Proto.UDP, "::1"));
    }

    private static InetAddress on(String host) {
        if (host.contains(":")) {
            KernelAssumptions.assumeIpv6();
            return V6;
        }
        return V4;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("protocolsAndFamilies")
    void oneSlotTableSendsEveryNewFlowToThatSlot(Proto proto, String host) throws Exception {
        InetAddress addr = on(host);
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(proto, addr, 4)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            for (int k = 0; k < 4; k++) {
                p.publish(Mode.HASH, new int[] {k}, false, k + 1);
                SlotCounters[] before = p.counters(4);
                int[] owner = g.newFlows(20);
                SlotCounters[] after = p.counters(4);
                assertThat(owner).as("%s: table [%d]: the member that received each of 20 new flows", g, k)
                        .containsOnly(k);
                for (int s = 0; s < 4; s++) {
                    assertThat(after[s].selected() - before[s].selected())
                            .as("slot %d selected count while table is [%d]", s, k).isEqualTo(s == k ? 20 : 0);
                    assertThat(after[s].fallback() - before[s].fallback()).as("slot %d fallbacks", s).isZero();
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Proto.class)
    void emptySlotFallsBackToKernelHash(Proto proto) throws Exception {
        int k = 2;
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(proto, V4, 4)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.HASH, new int[] {k}, false, 1);
            assertThat(p.slots().clear(k)).as("slot %d held member %d before clear", k, k).isTrue();
            assertThat(p.slots().cookie(k)).as("cookie of the cleared slot").isZero();

            int[] owner = g.newFlows(40);
            SlotCounters[] c = p.counters(4);

            assertThat(g.perMember(owner)[4]).as("%s: flows lost with slot %d empty (owners %s)", g, k,
                    Arrays.toString(owner)).isZero();
            assertThat(c[k].fallback()).as("fallbacks counted on the empty slot").isEqualTo(40);
            assertThat(Arrays.stream(c).mapToLong(SlotCounters::selected).sum()).as("selections: %s",
                    Arrays.toString(c)).isZero();
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Proto.class)
    void closedSocketEmptiesItsSlot(Proto proto) throws Exception {
        int k = 1;
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(proto, V4, 4)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            long[] cookies = new long[4];
            for (int i = 0; i < 4; i++) {
                cookies[i] = Sys.getLong(g.fd(i), Sys.SOL_SOCKET, Sys.SO_COOKIE);
                assertThat(cookies[i]).as("SO_COOKIE of member %d", i).isNotZero();
                assertThat(p.slots().cookie(i)).as("slot %d holds member %d's cookie", i, i).isEqualTo(cookies[i]);
            }

            g.closeMember(k);

            assertThat(p.slots().cookie(k)).as("slot %d after its socket closed", k).isZero();
            for (int i = 0; i < 4; i++) {
                if (i != k) {
                    assertThat(p.slots().cookie(i)).as("slot %d of a live member", i).isEqualTo(cookies[i]);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Proto.class)
    void detachWorksOnceThenReportsEnoent(Proto proto) throws Exception {
        List<Feature> features = KernelSupport.requireSteering();
        Feature detach = features.stream().filter(f -> f.name().equals(Probes.DETACH)).findFirst().orElseThrow();
        assumeTrue(detach.isOn(), () -> "no SO_DETACH_REUSEPORT_BPF: " + detach);
        int k = 3;
        try (SteerProgram p = SteerProgram.load(false); TestGroup g = TestGroup.open(proto, V4, 4)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.HASH, new int[] {k}, false, 1);
            assertThat(g.newFlows(20)).as("attached, table [%d]", k).containsOnly(k);

            SteerProgram.detach(g.fd(1)); // any member: the program belongs to the group
            assertThatThrownBy(() -> SteerProgram.detach(g.fd(0)))
                    .as("a second detach, through the member that attached")
                    .isInstanceOf(NativeException.class)
                    .hasMessageStartingWith("setsockopt(SO_DETACH_REUSEPORT_BPF): ENOENT")
                    .satisfies(e -> assertThat(((NativeException) e).errno()).isEqualTo(Errno.ENOENT));

            long selectedBefore = p.counters(4)[k].selected();
            int[] owner = g.newFlows(80);
            int[] count = g.perMember(owner);
            assertThat(count[4]).as("flows lost after detach").isZero();
            assertThat(Arrays.stream(count, 0, 4).filter(n -> n > 0).count())
                    .as("members receiving 80 flows under the kernel hash: %s", Arrays.toString(count))
                    .isGreaterThan(1);
            assertThat(p.counters(4)[k].selected()).as("the detached program ran no more").isEqualTo(selectedBefore);
        }
    }

    @Test
    void attachingToSocketWithoutReusePortIsRefused() throws Exception {
        try (SteerProgram p = SteerProgram.load(false)) {
            int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
            try {
                Sys.bind(fd, new InetSocketAddress(V4, 0), SockAddr.AF_INET);
                assertThatThrownBy(() -> p.attach(fd))
                        .isInstanceOf(NativeException.class)
                        .hasMessageContaining("setsockopt(SO_ATTACH_REUSEPORT_EBPF)")
                        .hasMessageContaining("EINVAL")
                        .satisfies(e -> {
                            NativeException n = (NativeException) e;
                            assertThat(n.call()).isEqualTo("setsockopt(SO_ATTACH_REUSEPORT_EBPF)");
                            assertThat(n.errno()).isEqualTo(Errno.EINVAL);
                            assertThat(n.errnoName()).isEqualTo("EINVAL");
                        });
            } finally {
                Sys.close(fd);
            }
        }
    }
}
