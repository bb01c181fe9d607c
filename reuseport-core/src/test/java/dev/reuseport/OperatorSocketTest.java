package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.reuseport.internal.wire.ControlLines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The operator socket's commands, and every bad request answered with an ERR that changes nothing. */
@Tag("kernel")
@Timeout(120)
class OperatorSocketTest {
    private Path dir;
    private ReuseportGroup group;
    private Controller controller;
    private ControlSocket socket;
    private ControlClient client;

    @BeforeEach
    void serve() throws Exception {
        dir = Files.createTempDirectory("rp-op", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        group = ReuseportGroup.tcp().address(TestTraffic.LO).workers(8).open();
        controller = Controller.manual(group, Policy.roundRobin(), Controller.Settings.defaults());
        socket = ControlSocket.serve(group, dir.resolve("ctl"), false);
        client = ControlClient.connect(socket.path());
    }

    @AfterEach
    void close() throws Exception {
        client.close();
        socket.close();
        controller.close();
        group.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void statusAndMetricsPrintEveryWorker() throws Exception {
        ControlClient.Reply status = client.request("status");
        assertThat(status.ok()).isTrue();
        assertThat(status.text()).startsWith("state OBSERVE policy kernel-hash table-version");
        assertThat(status.body()).anyMatch(l -> l.startsWith("steering kernel hash"));
        for (int s = 0; s < 8; s++) {
            int slot = s;
            assertThat(status.body()).anyMatch(l -> l.matches(slot + "\\s+\\d+\\s+\\d+\\s+\\d+\\s+1024\\s+\\d+"));
        }
        ControlClient.Reply metrics = client.request("metrics");
        assertThat(metrics.ok()).isTrue();
        assertThat(metrics.body().stream().filter(l -> l.matches("\\d+\\s+.*"))).hasSize(8);
        ControlClient.Reply prom = client.request("metrics --prom");
        assertThat(prom.body()).contains("reuseport_worker_queue_limit{protocol=\"tcp\",port=\""
                + group.localAddress().getPort() + "\",slot=\"7\"} 1024");
    }

    @Test
    void fallbackThenStatusShowsFallbackAndTheAuditHasIt() throws Exception {
        assertThat(client.request("state SHADOW checking").text()).isEqualTo("state SHADOW");
        ControlClient.Reply f = client.request("fallback paged at 3am");
        assertThat(f.ok()).isTrue();
        assertThat(f.text()).startsWith("state FALLBACK, kernel default in force after ");
        assertThat(client.request("status").text()).startsWith("state FALLBACK policy kernel-hash");
        ControlClient.Reply audit = client.request("audit 5");
        assertThat(audit.body()).anyMatch(l -> l.contains("\"to\":\"FALLBACK\"") && l.contains("paged at 3am"));
    }

    @Test
    void bundleWritesEveryPart() throws Exception {
        client.request("policy consistent");
        Path b = dir.resolve("bundle");
        ControlClient.Reply r = client.request("bundle " + b);
        assertThat(r.ok()).as(r.text()).isTrue();
        for (String f : Bundle.FILES) {
            assertThat(b.resolve(f)).isNotEmptyFile();
        }
        assertThat(Files.readString(b.resolve("sysctls.txt"))).contains("net.ipv4.tcp_migrate_req = ");
        assertThat(Files.readString(b.resolve("bpf-maps.txt"))).contains("config mode HASH table_len 4096");
        assertThat(Files.readString(b.resolve("policy-history.txt"))).contains("consistent");
        assertThat(Files.readString(b.resolve("audit.jsonl"))).contains("\"event\":\"attach\"");
        assertThat(Files.readString(b.resolve("metrics.prom"))).contains("reuseport_worker_drops_total{protocol=\"tcp\",port=\""
                + group.localAddress().getPort() + "\",slot=\"0\"}");
        assertThat(Files.readString(b.resolve("capabilities.txt"))).contains("SELECT_OR_MIGRATE");
    }

    static Stream<Arguments> badRequests() {
        return Stream.of(
                Arguments.of("frobnicate", "unknown command 'frobnicate'; accepted: status, policy"),
                Arguments.of("", "empty request; accepted: status"),
                Arguments.of("policy fastest", "policy 'fastest' is unknown; accepted: kernel-hash, round-robin"),
                Arguments.of("policy", "policy takes one spec; accepted: policy <"),
                Arguments.of("policy weighted:1,2,3", "policy weighted:1,2,3 names 3 weights; the group's slots are "
                        + "[0, 1, 2, 3, 4, 5, 6, 7]; accepted: one weight per slot 0..7 (8 weights)"),
                Arguments.of("policy weighted:1,1,1,1,-1,1,1,1", "weight -1 of slot 4 is negative; accepted: 0 or more"),
                Arguments.of("policy weighted:1,x", "policy 'weighted:1,x': weight 'x' is not a whole number"),
                Arguments.of("state ENFORCE", "transition OBSERVE -> ENFORCE is not allowed; accepted from OBSERVE: "
                        + "[SHADOW, FALLBACK]"),
                Arguments.of("state SIDEWAYS", "state 'SIDEWAYS' is unknown; accepted: [OBSERVE, SHADOW, ENFORCE, FALLBACK]"),
                Arguments.of("resize 0", "workers 0 is out of range; accepted: 1..256"),
                Arguments.of("resize many", "resize takes a worker count; got [many]"),
                Arguments.of("audit -3", "audit takes an entry count; got [-3]"),
                Arguments.of("bundle", "bundle takes one directory"),
                Arguments.of("bundle /proc/reuseport-bundle", "bundle directory /proc/reuseport-bundle cannot be created"),
                Arguments.of("metrics --json", "metrics takes no argument or --prom; got [--json]"),
                Arguments.of("handoff 9", "handoff version '9' is not supported; accepted: 2"),
                Arguments.of("x".repeat(300), "unknown command '" + "x".repeat(40) + "...'"),
                Arguments.of("status now", "status takes no arguments; got [now]"),
                Arguments.of("policy\u2003sticky", "unknown command 'policy?sticky'"),
                Arguments.of("status " + "y".repeat(ControlLines.MAX_LINE), "control line of " + (ControlLines.MAX_LINE + 7)
                        + " bytes is too long; accepted: at most " + ControlLines.MAX_LINE + " bytes"));
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("badRequests")
    void badRequestsGetAnErrorNamingTheValueAndChangeNothing(String request, String error) throws Exception {
        String before = client.request("status").text();
        int tableVersion = group.tableVersion();
        ControlClient.Reply r = client.request(request);
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).startsWith(error);
        assertThat(group.tableVersion()).isEqualTo(tableVersion);
        assertThat(controller.state()).isEqualTo(Controller.State.OBSERVE);
        assertThat(group.workers()).hasSize(8);
        assertThat(client.request("status").text()).as("the socket keeps serving, unchanged").isEqualTo(before);
    }

    @Test
    void aBundleDirectoryThatExistsIsRefused() throws Exception {
        Path existing = Files.createDirectory(dir.resolve("taken"));
        ControlClient.Reply r = client.request("bundle " + existing);
        assertThat(r.ok()).isFalse();
        assertThat(r.text()).isEqualTo("bundle directory " + existing + " exists; accepted: a path that does not exist "
                + "yet (a bundle never overwrites)");
        try (Stream<Path> s = Files.list(existing)) {
            assertThat(s).isEmpty();
        }
    }

    @Test
    void theSocketIsOwnerOnlyAndADirectoryOthersCanWriteIsRefused() throws Exception {
        assertThat(Files.getPosixFilePermissions(socket.path())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        Path open = Files.createDirectory(dir.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> ControlSocket.serve(group, open.resolve("ctl"), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("with mode rwxrwxrwx; accepted: owned by uid")
                .hasMessageContaining("writable by no one else");
        assertThatThrownBy(() -> ControlSocket.serve(group, socket.path(), false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is served by a running process");
    }

    @Test
    void aDeletedSocketFileIsAClearErrorAndTheServerKeepsRunning() throws Exception {
        Files.delete(socket.path());
        assertThatThrownBy(() -> ControlClient.connect(socket.path())).isInstanceOf(java.io.IOException.class);
        assertThat(client.request("status").ok()).as("an open session still works").isTrue();
        assertThat(group.worker(0).accept(Duration.ZERO)).isNull();
    }
}
