package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15, Medium: who may use the control socket, and how long a request may take. The overflow uid
 * (a peer unmapped in this user namespace) is never served; every ancestor directory of the socket is
 * checked, not only its parent; a request not complete by its deadline ends the session; the socket file
 * and the audit file are 0600 whatever the umask.
 */
@Tag("kernel")
@Timeout(60)
class ControlSocketPeerTest {

    @Test
    void theOverflowUidIsNeverServedEvenWhenTheServerRunsAsIt() {
        int overflow = ControlSocket.overflowUid();
        assertThat(overflow).isPositive();
        assertThat(ControlSessions.peerAllowed(overflow, overflow, overflow)).as("server running as the overflow uid")
                .isFalse();
        assertThat(ControlSessions.peerAllowed(overflow, 0, overflow)).isFalse();
        assertThat(ControlSessions.peerAllowed(1000, 1000, overflow)).isTrue();
        assertThat(ControlSessions.peerAllowed(0, 1000, overflow)).isTrue();
        assertThat(ControlSessions.peerAllowed(1001, 1000, overflow)).isFalse();
    }

    @Test
    void anAncestorWritableByOthersIsRefusedNotOnlyTheParent() throws Exception {
        Path top = Files.createTempDirectory("rp-anc");
        try {
            Files.setPosixFilePermissions(top, PosixFilePermissions.fromString("rwxrwxrwx")); // no sticky bit
            Path dir = Files.createDirectory(top.resolve("mine"), PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
            try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open()) {
                assertThatThrownBy(() -> ControlSocket.serve(g, dir.resolve("ctl"), false))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("ancestor directory " + top.toRealPath())
                        .hasMessageContaining("0777");
                assertThat(dir.resolve("ctl")).doesNotExist();
                // a root-owned sticky directory such as /tmp is accepted above a private one
                Files.setPosixFilePermissions(top, PosixFilePermissions.fromString("rwx------"));
                try (ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false)) {
                    assertThat(Files.getPosixFilePermissions(cs.path())).isEqualTo(
                            PosixFilePermissions.fromString("rw-------"));
                }
            }
        } finally {
            try (Stream<Path> s = Files.walk(top)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aRequestNotCompleteByItsDeadlineEndsTheSession() throws Exception {
        Path dir = Files.createTempDirectory("rp-deadline", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open();
             ControlSocket cs = ControlSocket.serve(g, dir.resolve("ctl"), false)
                     .requestDeadline(Duration.ofMillis(300));
             SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(cs.path()));
            long t0 = System.nanoTime();
            for (int i = 0; i < 3; i++) { // a trickle: each byte would reset a per-read timeout
                c.write(ByteBuffer.wrap("s".getBytes(StandardCharsets.US_ASCII)));
                Thread.sleep(150);
            }
            InputStream in = Channels.newInputStream(c);
            assertThat(in.read()).as("end of stream").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
            assertThat(cs.refusedSessions()[1]).isEqualTo(1);
            try (ControlClient ok = ControlClient.connect(cs.path())) {
                assertThat(ok.request("status").ok()).isTrue();
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void theAuditFileIsPrivateAndAReasonIsCutToOneKib() throws Exception {
        Path dir = Files.createTempDirectory("rp-audit");
        try (ReuseportGroup g = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open()) {
            Path f = dir.resolve("audit.jsonl");
            g.audit().appendTo(f);
            assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            String huge = "r".repeat(64 * 1024);
            for (int i = 0; i < 10_000; i++) {
                g.audit().record("test", "reason", huge);
            }
            assertThat(g.audit().retained()).as("characters retained").isLessThanOrEqualTo(AuditLog.MAX_RETAINED);
            String last = g.audit().tail(1).get(0);
            assertThat(last.length()).isLessThan(2 * AuditLog.MAX_VALUE);
            assertThat(last).contains("...[truncated " + (64 * 1024 - AuditLog.MAX_VALUE) + " chars]");
            Path bundle = dir.resolve("bundle");
            for (Path p : g.bundle(bundle)) {
                assertThat(Files.getPosixFilePermissions(p)).as(p.toString()).isEqualTo(
                        PosixFilePermissions.fromString("rw-------"));
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
