package dev.reuseport;

import dev.reuseport.testkit.ChildJvm;
import static dev.reuseport.KernelSelftestScenario.CLIENTS;
import static dev.reuseport.KernelSelftestScenario.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Probes;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernel's {@code selftests/bpf/prog_tests/migrate_reuseport.c}, case by case, through the library:
 * requests that have not finished their handshake when their listener leaves the group (removeWorker, or
 * a restart's socket generation swap) are migrated by the group's SELECT_OR_MIGRATE program and accepted by a
 * surviving member:
 * <ul>
 *   <li>{@code tfo}: TCP_SYN_RECV children of TCP Fast Open, in the accept queue, migrated by
 *       {@code inet_csk_listen_stop} when the listener closes;</li>
 *   <li>{@code timer}: TCP_NEW_SYN_RECV request sockets, migrated by the SYN-ACK timer
 *       ({@code reqsk_timer_handler}) while the final ACK is still held back;</li>
 *   <li>{@code ack}: TCP_NEW_SYN_RECV request sockets, migrated when the final ACK arrives
 *       ({@code tcp_v4_rcv}/{@code tcp_v6_rcv} finding the request's listener closed).</li>
 * </ul>
 * Each runs in a child in a private network namespace, whose tcp_migrate_req is 0 (so nothing but the
 * program migrates) and whose tcp_fastopen the test sets; IPv4 and IPv6. The final ACK is held back by
 * a classic BPF socket filter on the listeners (see {@link KernelSelftestScenario}). Without the program
 * ({@code migration(false)}) the requests are reset: the negative case shows the test can fail.
 *
 * <p>Most of a case's time is waiting for the kernel's SYN-ACK timer (1 s and 3 s after the SYN) and for
 * a JVM to start, so the 14 children, independent in their namespaces, start together at the class's
 * beginning, three at a time, in the tests' order; each test waits for its own child and asserts on its
 * output as before.
 */
@Tag("kernel")
@Timeout(200) // a test waits for its child, which may have waited for a place in the batch (ChildJvm kills any child at 150 s)
@TestMethodOrder(MethodOrderer.MethodName.class) // the order the children were started in
class KernelSelftestMigrationTest {
    /** TFO_CLIENT_ENABLE | TFO_SERVER_ENABLE | TFO_CLIENT_NO_COOKIE | TFO_SERVER_COOKIE_NOT_REQD | TFO_SERVER_WO_SOCKOPT1. */
    static final String FASTOPEN_SETUP = "echo 1543 > /proc/sys/net/ipv4/tcp_fastopen";

    private static ChildJvm.Batch children;

    @BeforeAll
    static void migrationIsAvailableAndTheChildrenStart() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        boolean on = f.stream().anyMatch(x -> x.name().equals(Probes.MIGRATE) && x.isOn());
        if (dev.reuseport.sys.internal.Sys.uid() != 0) {
            assumeTrue(on, "not root and the select-or-migrate program is unavailable: " + f);
        }
        assertThat(on).as("probes as root on a 5.14+ kernel: %s", f).isTrue();
        children = new ChildJvm.Batch(3);
        // in the tests' order, so that each test waits at most for the children started before its own
        cases().map(Arguments::get).forEach(a -> submit(a, true));
        requestCases().map(Arguments::get).forEach(a -> submit(new Object[] {a[0], "v4", a[1]}, false));
    }

    private static void submit(Object[] c, boolean migration) {
        children.inNetns(c[0] + " " + c[1] + " " + c[2] + " " + migration, FASTOPEN_SETUP, KernelSelftestScenario.class,
                "migrate", (String) c[0], (String) c[1], (String) c[2], Boolean.toString(migration));
    }

    @AfterAll
    static void stopWhatStillRuns() throws InterruptedException {
        if (children != null) {
            children.close();
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of("tfo", "timer", "ack").flatMap(state -> Stream.of("v4", "v6")
                .flatMap(family -> Stream.of("remove", "restart").map(op -> Arguments.of(state, family, op))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void unfinishedHandshakesAreAcceptedByASurvivor(String state, String family, String op) throws Exception {
        ChildJvm.Outcome o = children.await(state + " " + family + " " + op + " true");
        assertThat(o.exit()).as(o.output()).isZero();
        String out = o.output();
        assertThat(out).contains("tcp_migrate_req=0");
        // the handshakes really were unfinished, in the state the case names
        assertThat(value(out, "syn_recv_before")).as("SYN_RECV entries before: %s", out).isEqualTo(CLIENTS);
        assertThat(value(out, "established_before")).as("established before: %s", out).isZero();
        assertThat(value(out, "queued_before")).as("in accept queues before (TFO children only): %s", out)
                .isEqualTo(state.equals("tfo") ? CLIENTS : 0);
        if (state.equals("timer")) {
            assertThat(value(out, "migrated_by_timer")).as("migrated while the ACK was still held back: %s", out)
                    .isPositive();
        }
        if (state.equals("ack")) {
            assertThat(value(out, "migrated_before_ack")).as("nothing migrated before the ACK was let through: %s",
                    out).isZero();
        }
        assertThat(value(out, "accepted")).as("accepted by a live member: %s", out).isEqualTo(CLIENTS);
        if (state.equals("tfo")) {
            assertThat(value(out, "data_ok")).as("SYN data read after migration: %s", out).isEqualTo(CLIENTS);
        }
        assertThat(value(out, "migrate_success")).as("TCPMigrateReqSuccess: %s", out).isPositive();
        assertThat(value(out, "migrate_failure")).as("TCPMigrateReqFailure: %s", out).isZero();
        if (state.equals("tfo")) {
            // children in the accept queue migrate at close, while the group's routing table is in force; a
            // request migrated later (timer, ACK) meets the program back in pass mode, is migrated by the
            // kernel hash and is counted only by the kernel's TCPMigrateReqSuccess (see docs/reliability.md)
            assertThat(value(out, "counted_migrated")).as("the program's migrated counter: %s", out)
                    .isEqualTo(value(out, "migrate_success"));
        }
    }

    static Stream<Arguments> requestCases() {
        return Stream.of(Arguments.of("timer", "remove"), Arguments.of("ack", "restart"));
    }

    /** The control: without the program (tcp_migrate_req 0) requests on a leaving listener are lost. */
    @ParameterizedTest(name = "{0} v4 {1} without migration")
    @MethodSource("requestCases")
    void withoutTheMigrateProgramRequestsAreLost(String state, String op) throws Exception {
        ChildJvm.Outcome o = children.await(state + " v4 " + op + " false");
        assertThat(o.exit()).as(o.output()).isZero();
        String out = o.output();
        assertThat(value(out, "syn_recv_before")).as(out).isEqualTo(CLIENTS);
        assertThat(value(out, "accepted")).as("accepted without migration: %s", out).isLessThan(CLIENTS);
        assertThat(value(out, "migrate_success")).as(out).isZero();
    }
}
