package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every public entry point that takes a value, fed values at and beyond each bound, null, empty and huge:
 * each gets a typed error naming the value and what is accepted, and afterwards the group is as it was
 * (table version, policy, slots, controller-free state) and this process holds exactly the descriptors it
 * held before. The operator commands have their own table ({@link OperatorSocketTest}).
 */
@Tag("kernel")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PublicEntryPointBadInputTest {
    private static final String HUGE = "x".repeat(100_000);

    private ReuseportGroup group;
    private Path dir;

    @BeforeAll
    void open() throws IOException {
        group = ReuseportGroup.tcp().address("127.0.0.1").workers(4).policy(Policy.roundRobin()).open();
        dir = Files.createTempDirectory("rp-bad", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Files.createDirectory(dir.resolve("exists"));
        Files.writeString(dir.resolve("plain-file"), "not a socket");
    }

    @AfterAll
    void close() throws IOException {
        group.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted((a, b) -> b.compareTo(a))::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static Arguments bad(String what, Class<? extends Throwable> type, String message, Call call) {
        return Arguments.of(what, type, message, call);
    }

    /** One call of the table; it reaches the group and the temp directory through the test instance. */
    @FunctionalInterface
    interface Call {
        void run(PublicEntryPointBadInputTest t) throws Throwable;
    }

    Stream<Arguments> cases() {
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        List<Arguments> c = new ArrayList<>();
        // builder
        for (int port : new int[] {-1, 65_536, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
            c.add(bad("port " + port, iae, "port " + port + " is out of range; accepted: 0..65535",
                    t -> ReuseportGroup.tcp().port(port)));
        }
        for (int w : new int[] {0, -1, 257, Integer.MAX_VALUE}) {
            c.add(bad("workers " + w, iae, "workers " + w + " is out of range; accepted: 1..256",
                    t -> ReuseportGroup.udp().workers(w)));
        }
        for (int b : new int[] {0, -1, Integer.MAX_VALUE}) {
            c.add(bad("backlog " + b, iae, "backlog " + b, t -> ReuseportGroup.tcp().backlog(b)));
        }
        for (int r : new int[] {-1, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
            c.add(bad("receive buffer " + r, iae, "receiveBuffer " + r + " is out of range; accepted:", t -> ReuseportGroup.udp().receiveBuffer(r)));
        }
        c.add(bad("address null literal", iae, "address null is empty; accepted:", t -> ReuseportGroup.tcp().address((String) null)));
        c.add(bad("address null InetAddress", iae, "address null",
                t -> ReuseportGroup.tcp().address((java.net.InetAddress) null)));
        c.add(bad("address empty", iae, "address '' is empty; accepted:", t -> ReuseportGroup.tcp().address("")));
        c.add(bad("address huge", iae, "is not an IP literal", t -> ReuseportGroup.tcp().address(HUGE)));
        c.add(bad("builder policy null", iae, "policy null", t -> ReuseportGroup.tcp().policy(null)));
        // policy specs and weights
        c.add(bad("spec null", iae, "policy null is not a policy; accepted: kernel-hash", t -> Policy.parse(null)));
        c.add(bad("spec empty", iae, "policy '' is unknown; accepted: kernel-hash", t -> Policy.parse("")));
        c.add(bad("spec huge", iae, "is unknown; accepted: kernel-hash", t -> Policy.parse(HUGE)));
        c.add(bad("weights none", iae, "accepted:", t -> Policy.weighted()));
        c.add(bad("weights null", iae, "weights null", t -> Policy.weighted((int[]) null)));
        c.add(bad("weights negative", iae, "weight -1 of slot 1 is negative; accepted: 0 or more",
                t -> Policy.weighted(1, -1)));
        c.add(bad("weights all zero", iae, "accepted:", t -> Policy.weighted(0, 0, 0, 0)));
        c.add(bad("weights too many", iae, "accepted:", t -> Policy.weighted(new int[257])));
        c.add(bad("weights huge sum", iae, "accepted:",
                t -> Policy.weighted(Integer.MAX_VALUE, Integer.MAX_VALUE, 1, 1)));
        c.add(bad("weights spec not a number", iae, "weight 'x' is not a whole number",
                t -> Policy.parse("weighted:1,x")));
        c.add(bad("weights spec empty", iae, "accepted:", t -> Policy.parse("weighted:")));
        // the group
        c.add(bad("policy null", iae, "policy null", t -> t.group.policy(null)));
        c.add(bad("policy wrong weight count", iae, "names 3 weights; the group's slots are [0, 1, 2, 3]",
                t -> t.group.policy(Policy.weighted(1, 2, 3))));
        c.add(bad("applyPolicy null", iae, "policy null", t -> t.group.applyPolicy(null)));
        c.add(bad("applyPolicy wrong weight count", iae, "names 3 weights; the group's slots are [0, 1, 2, 3]",
                t -> t.group.applyPolicy(Policy.weighted(1, 2, 3))));
        c.add(bad("shadow null", iae, "policy null cannot be shadowed; accepted:", t -> t.group.shadow(null)));
        c.add(bad("shadow kernel hash", iae, "policy kernel-hash cannot be shadowed",
                t -> t.group.shadow(Policy.kernelHash())));
        for (int n : new int[] {0, -1, 257, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            c.add(bad("resize " + n, iae, "workers " + n + " is out of range; accepted: 1..256", t -> t.group.resize(n)));
        }
        for (int s : new int[] {-1, 4, 255, 256, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            c.add(bad("removeWorker " + s, iae, "slot " + s + " does not exist; accepted: one of [0, 1, 2, 3]",
                    t -> t.group.removeWorker(s)));
            c.add(bad("replaceWorker " + s, iae, "slot " + s + " does not exist; accepted: one of [0, 1, 2, 3]",
                    t -> t.group.replaceWorker(s)));
            c.add(bad("worker " + s, iae, "slot " + s + " does not exist; accepted: one of [0, 1, 2, 3]",
                    t -> t.group.worker(s)));
        }
        c.add(bad("watchdog null", iae, "stall null; accepted: 10 ms .. 1 h", t -> t.group.watchdog(null)));
        c.add(bad("watchdog 9 ms", iae, "stall PT0.009S; accepted: 10 ms .. 1 h",
                t -> t.group.watchdog(Duration.ofMillis(9))));
        c.add(bad("watchdog negative", iae, "accepted: 10 ms .. 1 h", t -> t.group.watchdog(Duration.ofSeconds(-1))));
        c.add(bad("watchdog 2 h", iae, "stall PT2H; accepted: 10 ms .. 1 h", t -> t.group.watchdog(Duration.ofHours(2))));
        c.add(bad("bundle null", iae, "bundle directory null", t -> t.group.bundle(null)));
        c.add(bad("bundle existing", iae, "exists", t -> t.group.bundle(t.dir.resolve("exists"))));
        // the hand-off path and the control socket path
        c.add(bad("takeOver null", iae, "control socket path null", t -> ReuseportGroup.takeOver(null, null)));
        c.add(bad("takeOver missing", HandoffException.class, "nobody", t -> ReuseportGroup.takeOver(
                t.dir.resolve("nobody"), null)));
        c.add(bad("takeOver plain file", HandoffException.class, "plain-file", t -> ReuseportGroup.takeOver(
                t.dir.resolve("plain-file"), null)));
        c.add(bad("takeOver a directory", HandoffException.class, "exists", t -> ReuseportGroup.takeOver(
                t.dir.resolve("exists"), null)));
        c.add(bad("takeOver huge path", iae, "is longer than 107 bytes", t -> ReuseportGroup.takeOver(
                t.dir.resolve("y".repeat(200)), null)));
        c.add(bad("serve null path", iae, "control socket path null", t -> ControlSocket.serve(t.group, null, false)));
        c.add(bad("serve huge path", iae, "is longer than 107 bytes",
                t -> ControlSocket.serve(t.group, t.dir.resolve("y".repeat(200)), false)));
        c.add(bad("serve missing directory", iae, "does not exist",
                t -> ControlSocket.serve(t.group, t.dir.resolve("no-such-dir/ctl"), false)));
        c.add(bad("serve over a plain file", iae, "exists and is not a socket",
                t -> ControlSocket.serve(t.group, t.dir.resolve("plain-file"), false)));
        c.add(bad("serve null group", iae, "group null", t -> ControlSocket.serve(null, t.dir.resolve("ctl"), false)));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aBadValueIsATypedErrorNamingItAndChangesNothing(String what, Class<? extends Throwable> type, String message,
                                                         Call call) throws Exception {
        java.util.Set<String> fdsBefore = descriptors();
        int tableVersion = group.tableVersion();
        Policy policy = group.policy();
        int[] slots = group.slots();
        ThrowingCallable run = () -> call.run(this);
        Throwable thrown = catchThrowable(run);
        assertThat(thrown).as(what).isInstanceOf(type);
        assertThat(thrown.getMessage()).as(what).contains(message);
        assertThat(thrown.getMessage().length()).as("%s: the message stays readable", what).isLessThan(1_000);
        assertThat(group.tableVersion()).as(what).isEqualTo(tableVersion);
        assertThat(group.policy()).as(what).isEqualTo(policy);
        assertThat(group.slots()).as(what).containsExactly(slots);
        assertThat(descriptors()).as("%s: descriptors after", what).isEqualTo(fdsBefore);
    }

    /**
     * This process's socket and anon-inode (BPF, epoll) descriptors: what the library can leak (the JVM
     * itself opens and closes files, such as cgroup limits, at its own pace).
     */
    private static java.util.Set<String> descriptors() throws IOException {
        return Descriptors.matching(t -> t.startsWith("socket:[") || t.startsWith("anon_inode:"));
    }
}
