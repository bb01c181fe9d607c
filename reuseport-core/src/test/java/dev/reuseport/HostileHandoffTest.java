package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.reuseport.handoff.Handoff;
import dev.reuseport.internal.wire.ControlLines;
import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.Descriptors;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile peers on both sides of a hand-off (issue 15, High 1 and 2). A new side that read the reply
 * with plain recv (the kernel discarded the descriptors) and typed {@code ready} must not make the old
 * side let go; an old side that sends what a group is not made of must not be adopted: each ends in a
 * {@code HandoffException}, the fallback group serving, and no descriptor left open.
 */
@Tag("kernel")
@Timeout(120)
class HostileHandoffTest {
    private Path dir;

    @BeforeEach
    void dir() throws IOException {
        dir = Files.createTempDirectory("rp-hostile", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
    }

    @AfterEach
    void cleanup() throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Whether one connection to {@code port} is accepted by a worker of {@code g} and answered. */
    private static boolean served(ReuseportGroup g, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(2000);
            long until = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < until) {
                for (Worker w : g.workers()) {
                    try (Connection c = w.accept(Duration.ofMillis(20))) {
                        if (c != null) {
                            c.writeFully(ByteBuffer.wrap(new byte[] {42}));
                            return s.getInputStream().read() == 42;
                        }
                    }
                }
            }
            return false;
        }
    }

    // --- High 1: the confirmation carries proof ---

    @Test
    void aPeerThatDiscardedTheDescriptorsAndTypesReadyIsRefusedAndTheGroupKeepsServing() throws Exception {
        Path ctl = dir.resolve("ctl");
        try (ReuseportGroup g = ReuseportGroup.tcp().address("127.0.0.1").workers(4).open();
             ControlSocket cs = ControlSocket.serve(g, ctl, false)) {
            int port = g.localAddress().getPort();
            String answer;
            try (UnixSocketChannel peer = UnixSocketChannel.open(new UnixSocketAddress(ctl.toFile()))) {
                peer.write(ByteBuffer.wrap(("handoff " + Handoff.VERSION + "\n").getBytes(StandardCharsets.US_ASCII)));
                // plain reads: the kernel drops the SCM_RIGHTS descriptors (MSG_CTRUNC), as Python's recv() does
                StringBuilder seen = new StringBuilder();
                ByteBuffer b = ByteBuffer.allocate(4096);
                while (seen.indexOf("LAYOUT") < 0 || seen.indexOf("\n", seen.indexOf("LAYOUT")) < 0) {
                    b.clear();
                    int n = peer.read(b);
                    assertThat(n).as("the old side sent its layout; so far: %s", seen).isPositive();
                    seen.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
                }
                peer.write(ByteBuffer.wrap("ready\n".getBytes(StandardCharsets.US_ASCII)));
                StringBuilder reply = new StringBuilder();
                while (reply.indexOf("\n") < 0) {
                    b.clear();
                    int n = peer.read(b);
                    if (n <= 0) {
                        break;
                    }
                    reply.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
                }
                answer = reply.toString().trim();
            }
            System.out.println("old side answered a bare ready with: " + answer);
            assertThat(answer).startsWith("ERR handoff proof");
            assertThat(g.isClosed()).as("the old group still holds its sockets").isFalse();
            assertThat(cs.handedOff()).isFalse();
            assertThat(served(g, port)).as("a connection to the port is still served").isTrue();
            assertThat(g.audit().entries()).anyMatch(e -> e.contains("handoff-refused"));
            assertThat(g.engine().handoffsRefused()).isEqualTo(1);
        }
    }

    // --- High 2: takeOver trusts nothing it receives ---

    /** A socket bound to 127.0.0.1:{@code port} with SO_REUSEPORT: a listener (when {@code tcp}) or UDP. */
    private static int socket(boolean tcp, int port, boolean nonBlocking) throws IOException {
        int fd = Sys.socket(dev.reuseport.sys.internal.SockAddr.AF_INET, (tcp ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM) | (nonBlocking ? Sys.SOCK_NONBLOCK : 0), 0);
        Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
        Sys.bind(fd, new InetSocketAddress("127.0.0.1", port), dev.reuseport.sys.internal.SockAddr.AF_INET);
        if (tcp) {
            Sys.listen(fd, 16);
        }
        return fd;
    }

    /**
     * Holds TCP 127.0.0.1:{@code port} until closed: a socket bound with SO_REUSEPORT that never listens, so
     * the fallback group can still bind the port (same user, SO_REUSEPORT) and no connection reaches it, but
     * no connect() elsewhere on the host can take the port as its ephemeral source port in the meantime
     * (CI saw that: the fallback's bind failed with EADDRINUSE on a port a client had taken).
     */
    private static Held holdPort(int port) throws IOException {
        int fd = Sys.socket(dev.reuseport.sys.internal.SockAddr.AF_INET, Sys.SOCK_STREAM | Sys.SOCK_NONBLOCK, 0);
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            Sys.bind(fd, new InetSocketAddress("127.0.0.1", port), dev.reuseport.sys.internal.SockAddr.AF_INET);
        } catch (IOException | RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
        return new Held(fd, Sys.localAddress(fd).getPort());
    }

    /** A port held by {@link #holdPort}. */
    private record Held(int fd, int port) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            Sys.close(fd);
        }
    }

    /** A port nothing listens on, held in {@code held} until the case ends. */
    private static int freePort(List<AutoCloseable> held) throws IOException {
        Held h = holdPort(0);
        held.add(h);
        return h.port();
    }

    /** What a hostile old side sends: a header, descriptors, a layout; its descriptors close after. */
    private record Script(String header, int[] fds, String layout, int port, String expected) {
    }

    private static String layout(String protocol, int port, String slots) {
        return "LAYOUT version=" + Handoff.VERSION + " protocol=" + protocol + " address=127.0.0.1 port=" + port
                + " backlog=16 rcvbuf=0 policy=kernel-hash generation=0 slots=" + slots + " program=-";
    }

    private static String header(int fds) {
        return "OK handoff " + Handoff.VERSION + " fds " + fds + " batches " + (fds == 0 ? 0 : 1);
    }

    /** The script for {@code kind}, its layout's TCP port held in {@code held} until the case ends. */
    private Script script(String kind, List<AutoCloseable> keep, List<AutoCloseable> held) throws IOException {
        Script s = scriptFor(kind, keep, held);
        if (held.stream().noneMatch(h -> h instanceof Held p && p.port() == s.port())) {
            held.add(holdPort(s.port()));
        }
        return s;
    }

    private Script scriptFor(String kind, List<AutoCloseable> keep, List<AutoCloseable> held) throws IOException {
        switch (kind) {
            case "accepted-connection": {
                int l = socket(true, 0, true);
                int port = Sys.localAddress(l).getPort();
                Socket client = new Socket("127.0.0.1", port);
                keep.add(client);
                int c = -1;
                for (int i = 0; i < 200 && c < 0; i++) {
                    c = Sys.accept(l, true);
                    if (c < 0) {
                        sleep(5);
                    }
                }
                Sys.close(l);
                return new Script(header(1), new int[] {c}, layout("TCP", port, "0"), port, "listen");
            }
            case "udp-in-tcp-layout": {
                // the TCP port first (held: the fallback binds it), then a UDP socket on the same number
                int port = freePort(held);
                int u = socket(false, port, true);
                return new Script(header(1), new int[] {u}, layout("TCP", port, "0"), port, "UDP");
            }
            case "duplicate-slots": {
                int a = socket(true, 0, true);
                int port = Sys.localAddress(a).getPort();
                int b = socket(true, port, true);
                return new Script(header(2), new int[] {a, b}, layout("TCP", port, "0,0"), port, "slot 0");
            }
            case "blocking-listener": {
                int l = socket(true, 0, false);
                int port = Sys.localAddress(l).getPort();
                return new Script(header(1), new int[] {l}, layout("TCP", port, "0"), port, "O_NONBLOCK");
            }
            case "zero-sockets": {
                int port = freePort(held);
                return new Script(header(0), new int[0], layout("TCP", port, ""), port, "no socket");
            }
            case "malformed-header": {
                int port = freePort(held);
                return new Script("OK handoff " + Handoff.VERSION + " fds many", new int[0], null, port, "many");
            }
            case "wrong-port": {
                int l = socket(true, 0, true);
                int port = freePort(held);
                return new Script(header(1), new int[] {l}, layout("TCP", port, "0"), port, "port");
            }
            default:
                throw new IllegalArgumentException(kind);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Serves one hand-off request on {@code ctl} with {@code s}, then closes everything it sent. */
    private static Thread fakeOldSide(Path ctl, Script s, AtomicReference<Throwable> failed) throws IOException {
        UnixServerSocketChannel server = UnixServerSocketChannel.open();
        server.socket().bind(new UnixSocketAddress(ctl.toFile()));
        Thread t = new Thread(() -> {
            try (server; UnixSocketChannel c = server.accept()) {
                ControlLines lines = new ControlLines(c.getFD());
                Sys.setTimeouts(lines.fd(), 10_000);
                lines.readLine(); // handoff N
                lines.writeLine(s.header());
                if (s.fds().length > 0) {
                    byte[] frame = String.format("FDS %010d\n", s.fds().length).getBytes(StandardCharsets.US_ASCII);
                    Sys.sendFds(lines.fd(), java.util.Arrays.copyOf(frame, 16), s.fds());
                }
                if (s.layout() != null) {
                    lines.writeLine(s.layout());
                }
                try {
                    while (lines.readLine() != null) {
                        // whatever the new side says (abort), until it hangs up
                    }
                } catch (IOException e) {
                    // the new side hung up
                }
            } catch (Throwable e) {
                failed.set(e);
            } finally {
                for (int fd : s.fds()) {
                    try {
                        Sys.close(fd);
                    } catch (IOException ignored) {
                        // already closed
                    }
                }
                try {
                    Files.deleteIfExists(ctl);
                } catch (IOException ignored) {
                    // the test's directory goes anyway
                }
            }
        }, "fake-old-side");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static Set<String> descriptors() throws IOException {
        return Descriptors.matching(t -> t.startsWith("socket:[") || t.startsWith("anon_inode:"));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"accepted-connection", "udp-in-tcp-layout", "duplicate-slots", "blocking-listener",
        "zero-sockets", "malformed-header", "wrong-port"})
    void aHostileOldSideEndsInAHandoffExceptionTheFallbackServingAndNoLeak(String kind) throws Exception {
        Path ctl = dir.resolve("ctl");
        Set<String> before = descriptors();
        List<AutoCloseable> keep = new ArrayList<>();
        List<AutoCloseable> held = new ArrayList<>();
        // without a fallback: the typed error
        Script s = script(kind, keep, held);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread old = fakeOldSide(ctl, s, failed);
        Throwable thrown = catchThrowable(() -> GroupOpening.takeOver(ctl, null, Handoff.PLAIN).close());
        old.join(15_000);
        for (AutoCloseable c : keep) {
            c.close();
        }
        keep.clear();
        for (AutoCloseable c : held) {
            c.close();
        }
        held.clear();
        System.out.println(kind + ": " + thrown);
        assertThat(failed.get()).as("the fake old side ran").isNull();
        assertThat(thrown).as(kind).isInstanceOf(HandoffException.class);
        assertThat(thrown.getMessage()).as(kind).contains(s.expected());
        assertThat(descriptors()).as("%s: descriptors after the refusal", kind).isEqualTo(before);

        // with a fallback on the layout's port: the fallback group opens and serves
        s = script(kind, keep, held);
        old = fakeOldSide(ctl, s, failed);
        ReuseportGroup.Builder fallback = ReuseportGroup.tcp().address("127.0.0.1").port(s.port()).workers(2);
        try (ReuseportGroup g = GroupOpening.takeOver(ctl, fallback, Handoff.PLAIN)) {
            old.join(15_000);
            for (AutoCloseable c : keep) {
                c.close();
            }
            assertThat(failed.get()).as("the fake old side ran").isNull();
            assertThat(g.audit().entries()).as(kind).anyMatch(e -> e.contains("takeover-fallback"));
            assertThat(served(g, s.port())).as("%s: the fallback group serves", kind).isTrue();
        } finally {
            for (AutoCloseable c : held) {
                c.close();
            }
        }
        assertThat(descriptors()).as("%s: descriptors after the fallback group closed", kind).isEqualTo(before);
    }
}
