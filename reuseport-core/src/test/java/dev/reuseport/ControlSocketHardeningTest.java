package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15, Medium: the control socket under hostile or unlucky clients, through its public API only
 * (each test failed on the code before the fix). 200 idle clients: the ones past the session cap get
 * {@code ERR busy} and status still answers; a command's RuntimeException answers {@code ERR <type>: ...}
 * and the session goes on; closing a socket leaves a file another server put at its path; a reply line
 * over 64 KiB does not leave ControlClient out of step; {@code resize} is refused where nothing would
 * serve the added workers.
 */
@Tag("kernel")
@Timeout(60)
class ControlSocketHardeningTest {
    private Path dir;
    private ReuseportGroup group;

    @BeforeEach
    void open() throws IOException {
        dir = Files.createTempDirectory("rp-ctl-hard", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        group = ReuseportGroup.tcp().address(TestTraffic.LO).workers(2).open();
    }

    @AfterEach
    void close() throws IOException {
        group.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aClientRefusedBeforeItsRequestStillReadsWhy() throws Exception {
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false)) {
            List<SocketChannel> idle = new ArrayList<>();
            try {
                // the sessions and the ones past the cap for an urgent request: the next is refused at once
                for (int i = 0; i < ControlSocket.MAX_SESSIONS + ControlSessions.URGENT_ONLY; i++) {
                    idle.add(SocketChannel.open(UnixDomainSocketAddress.of(cs.path())));
                }
                try (ControlClient late = ControlClient.connect(cs.path())) {
                    long deadline = System.nanoTime() + 5_000_000_000L;
                    while (cs.refusedSessions()[0] == 0 && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                    assertThat(cs.refusedSessions()[0]).as("the 69th client was told busy").isEqualTo(1);
                    Thread.sleep(100); // the server has written ERR busy and closed: our write now fails (EPIPE)
                    ControlClient.Reply r = late.request("status");
                    assertThat(r.ok()).isFalse();
                    assertThat(r.text()).startsWith("busy: " + ControlSocket.MAX_SESSIONS + " sessions open");
                }
            } finally {
                for (SocketChannel c : idle) {
                    c.close();
                }
            }
        }
    }

    @Test
    void twoHundredIdleClientsGetBusyPastTheCapAndStatusStillAnswers() throws Exception {
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false);
             ControlClient early = ControlClient.connect(cs.path())) {
            assertThat(early.request("status").ok()).isTrue();
            List<SocketChannel> idle = new ArrayList<>();
            int busy = 0;
            try (Selector sel = Selector.open()) {
                for (int i = 0; i < 200; i++) {
                    SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                    c.connect(UnixDomainSocketAddress.of(cs.path()));
                    c.configureBlocking(false);
                    c.register(sel, SelectionKey.OP_READ);
                    idle.add(c);
                }
                long deadline = System.nanoTime() + 5_000_000_000L;
                java.util.Set<SocketChannel> answered = new java.util.HashSet<>();
                int past = 200 - ControlSocket.MAX_SESSIONS - ControlSessions.URGENT_ONLY + 1;
                while (answered.size() < past && System.nanoTime() < deadline) {
                    sel.select(200);
                    for (SelectionKey k : sel.selectedKeys()) {
                        SocketChannel c = (SocketChannel) k.channel();
                        ByteBuffer b = ByteBuffer.allocate(512);
                        int n = c.read(b);
                        if (n > 0 && new String(b.array(), 0, n, StandardCharsets.UTF_8).startsWith("ERR busy")) {
                            answered.add(c);
                        }
                        if (n < 0) {
                            k.cancel();
                        }
                    }
                    sel.selectedKeys().clear();
                }
                busy = answered.size();
            }
            // the early client holds one session: 63 of the 200 are served, 4 wait past the cap for an urgent
            // request, 133 are told busy
            assertThat(busy).as("clients told ERR busy").isEqualTo(200 - 64 - 4 + 1);
            assertThat(early.request("status").ok()).as("status on a session opened before").isTrue();
            for (SocketChannel c : idle) {
                c.close();
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            ControlClient.Reply r = null;
            while (System.nanoTime() < deadline) {
                try (ControlClient late = ControlClient.connect(cs.path())) {
                    r = late.request("status");
                }
                if (r.ok()) {
                    break;
                }
                Thread.sleep(20);
            }
            assertThat(r.ok()).as("status on a new connection once the idle clients left: %s", r.text()).isTrue();
        }
    }

    @Test
    void pastTheCapAnOperatorsFallbackStillRunsAndAnythingElseIsBusy() throws Exception {
        List<SocketChannel> idle = new ArrayList<>();
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false)) {
            for (int i = 0; i < ControlSocket.MAX_SESSIONS; i++) { // a tool that leaks connections, say
                idle.add(SocketChannel.open(UnixDomainSocketAddress.of(cs.path())));
            }
            try (ControlClient op = ControlClient.connect(cs.path())) {
                ControlClient.Reply r = op.request("fallback incident");
                assertThat(r.ok()).as("fallback past the cap: %s", r.text()).isTrue();
                assertThat(r.text()).contains("kernel default in force");
            }
            try (ControlClient c = ControlClient.connect(cs.path())) {
                ControlClient.Reply r = c.request("status");
                assertThat(r.ok()).isFalse();
                assertThat(r.text()).startsWith("busy: " + ControlSocket.MAX_SESSIONS + " sessions open")
                        .contains("only fallback and health");
            }
            // the urgent-only sessions taken by silent clients too: the next is told busy at once, and the
            // silent ones are cut after 2 s, so health answers again
            long busyBefore = cs.refusedSessions()[0];
            for (int i = 0; i < ControlSessions.URGENT_ONLY; i++) {
                idle.add(SocketChannel.open(UnixDomainSocketAddress.of(cs.path())));
            }
            try (ControlClient c = ControlClient.connect(cs.path())) {
                ControlClient.Reply r = c.request("health");
                assertThat(r.ok()).as("no urgent-only session left: %s", r.text()).isFalse();
                assertThat(cs.refusedSessions()[0]).isEqualTo(busyBefore + 1);
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (cs.refusedSessions()[1] < ControlSessions.URGENT_ONLY && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(cs.refusedSessions()[1]).as("silent urgent-only sessions cut by their 2 s deadline")
                    .isEqualTo(ControlSessions.URGENT_ONLY);
            try (ControlClient c = ControlClient.connect(cs.path())) {
                assertThat(c.request("health").ok()).isTrue();
            }
        } finally {
            for (SocketChannel c : idle) {
                c.close();
            }
        }
    }

    @Test
    void aRuntimeExceptionInACommandAnswersErrWithItsTypeAndTheSessionGoesOn() throws Exception {
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false)
                .command("boom", (a, body) -> {
                    throw new NullPointerException("no value\u0007here");
                });
             ControlClient c = ControlClient.connect(cs.path())) {
            ControlClient.Reply r = c.request("boom");
            assertThat(r.ok()).isFalse();
            assertThat(r.text()).isEqualTo("NullPointerException: no value?here");
            assertThat(c.request("status").ok()).as("the same session still serves").isTrue();
        }
    }

    @Test
    void closingLeavesASocketFileThatAnotherServerPutThere() throws Exception {
        Path p = dir.resolve("ctl");
        ControlSocket first = ControlSocket.serve(group, p, false);
        try (ReuseportGroup other = ReuseportGroup.tcp().address(TestTraffic.LO).workers(1).open();
             ControlSocket second = ControlSocket.serve(other, p, true)) {
            first.close();
            assertThat(p).as("the second server's socket file").exists();
            try (ControlClient c = ControlClient.connect(p)) {
                assertThat(c.request("status").text()).endsWith("workers 1");
            }
        } finally {
            first.close();
        }
        assertThat(p).as("removed by its own server's close").doesNotExist();
    }

    @Test
    void aReplyLineOverSixtyFourKibDoesNotPutTheClientOutOfStep() throws Exception {
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false)
                .command("big", (a, body) -> {
                    body.add("x".repeat(100 * 1024));
                    body.add("small");
                    return "big done";
                });
             ControlClient c = ControlClient.connect(cs.path())) {
            ControlClient.Reply big = c.request("big");
            assertThat(big.text()).isEqualTo("big done");
            assertThat(big.body()).hasSize(2);
            assertThat(big.body().get(0)).contains("dropped");
            assertThat(big.body().get(1)).isEqualTo("small");
            ControlClient.Reply status = c.request("status");
            assertThat(status.ok()).isTrue();
            assertThat(status.text()).as("status's own reply").startsWith("state ");
        }
    }

    @Test
    void resizeUpIsRefusedWhereNothingServesAddedWorkers() throws Exception {
        try (ControlSocket cs = ControlSocket.serve(group, dir.resolve("ctl"), false);
             ControlClient c = ControlClient.connect(cs.path())) {
            ControlClient.Reply r = c.request("resize 4");
            assertThat(r.ok()).isFalse();
            assertThat(r.text()).contains("resize 4 would add workers that nothing serves");
            assertThat(group.workers()).hasSize(2);
            assertThat(c.request("resize 1").ok()).as("shrinking needs no server").isTrue();
            cs.onWorkersAdded(ws -> { });
            assertThat(c.request("resize 3").ok()).as("with an application listening for added workers").isTrue();
            assertThat(group.workers()).hasSize(3);
        }
    }
}
