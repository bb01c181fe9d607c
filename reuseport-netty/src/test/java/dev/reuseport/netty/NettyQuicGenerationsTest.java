package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.Policy;
import dev.reuseport.ReuseportGroup;
import dev.reuseport.bpf.Dissector;
import dev.reuseport.netty.check.NatRelay;
import dev.reuseport.netty.check.QuicEcho;
import dev.reuseport.netty.check.QuicEchoClients;
import dev.reuseport.testkit.ChildJvm;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.quic.Quic;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real Netty QUIC servers in JVMs of their own ({@link QuicHandoffChild}) hand a QUIC group over to each
 * other while real Netty QUIC clients here keep long-lived connections, each opening a stream every 50 ms
 * whose echo must come back within a second. With socket generations each new server opens its own sockets
 * and the old one keeps serving its connections until they end: through two hand-offs no connection
 * breaks, no stream fails, and the new connections go to the newest server. With today's hand-off (the
 * sockets passed: {@code reuseport.generations=off}) one hand-off breaks them: the scenario is real.
 * Handshakes in flight during a hand-off complete on the old server, and when a draining server is killed
 * the side that took over (this JVM) retires its generation while its own connections go on.
 */
@Tag("kernel")
@Timeout(300)
class NettyQuicGenerationsTest {
    /** One key store for every server of the class (keytool takes seconds on a loaded machine). */
    private static Path keystoreDir;
    private static Path keystore;
    private Path dir;
    private final List<Child> children = new ArrayList<>();

    @BeforeAll
    static void makeKeystore() throws Exception {
        NettyTesting.assumeEpoll();
        NettyTesting.assumeSteering();
        assumeTrue(Quic.isAvailable(), "Netty QUIC natives unavailable: " + Quic.unavailabilityCause());
        keystoreDir = Files.createTempDirectory("rp-quic-cert", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        keystore = keystoreDir.resolve("server.p12");
        QuicEcho.writeSelfSignedKeystore(keystore);
    }

    @AfterAll
    static void removeKeystore() throws IOException {
        if (keystore != null) {
            Files.deleteIfExists(keystore);
            Files.deleteIfExists(keystoreDir);
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory("rp-quic-gen", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Child c : children) {
            c.process.destroyForcibly();
            c.process.waitFor(10, TimeUnit.SECONDS);
        }
        if (dir != null) {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** A server JVM whose output lines are collected. */
    private final class Child {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final String name;

        Child(String name, boolean generations, String... args) throws IOException {
            this.name = name;
            List<String> cmd = ChildJvm.javaCommand(QuicHandoffChild.class, args);
            if (!generations) {
                cmd.add(1, "-Dreuseport.generations=off");
            }
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            children.add(this);
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        System.out.println("[" + name + "] " + l);
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // the child went away
                }
            }, "child-" + name);
            t.setDaemon(true);
            t.start();
        }

        /** The first line starting with {@code prefix} within 90 s. */
        String await(String prefix) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90); // a child JVM on a loaded machine: start, take over (4 verifier runs), serve
            for (String l; (l = lines.poll(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS)) != null; ) {
                if (l.startsWith(prefix)) {
                    return l;
                }
            }
            throw new AssertionError(name + " printed no line starting with '" + prefix + "' within 90 s");
        }

        void quit() throws IOException {
            process.getOutputStream().write("quit\n".getBytes(StandardCharsets.US_ASCII));
            process.getOutputStream().flush();
        }
    }

    private int port;

    private Child server(String name, boolean generations, String previous) throws IOException {
        return new Child(name, generations, previous == null ? "first" : "take", keystore.toString(),
                dir.resolve(name).toString(), previous == null ? "-" : dir.resolve(previous).toString(),
                String.valueOf(port));
    }

    private static int field(String line, String key) {
        for (String part : line.split(" ")) {
            if (part.startsWith(key + "=")) {
                return Integer.parseInt(part.substring(key.length() + 1));
            }
        }
        throw new AssertionError("no " + key + " in '" + line + "'");
    }

    @Test
    void quicConnectionsLiveThroughTwoCrossProcessHandoffsWithGenerations() throws Exception {
        EventLoopGroup loops = NettyTesting.epollLoops(2);
        try {
            Child a = server("a", true, null);
            port = field(a.await("READY"), "port");
            InetSocketAddress target = new InetSocketAddress(NettyTesting.LO, port);
            try (QuicEchoClients clients = new QuicEchoClients(50, 1_000);
                 QuicEchoClients later = new QuicEchoClients(50, 1_000)) {
                clients.connect(loops, target, 8);
                clients.start();
                Child b = server("b", true, "a");
                int genB = field(b.await("READY"), "generation");
                a.await("DRAINING");
                later.connect(loops, target, 4); // new connections: to b
                later.start();
                Child c = server("c", true, "b");
                int genC = field(c.await("READY"), "generation");
                b.await("DRAINING");
                assertThat(genC).as("each take-over a new generation").isNotEqualTo(genB);
                Thread.sleep(1_200); // every stream opened so far has had its time
                long ok = clients.ok.get() + later.ok.get();
                long failed = clients.failed.get() + later.failed.get();
                long broken = clients.broken() + later.broken();
                System.out.printf("quic generations: connections=%d hand-offs=2 streams_ok=%d streams_failed=%d "
                        + "(timed out %d + %d) broken=%d (%d + %d)%n", clients.connected() + later.connected(), ok,
                        failed, clients.timedOut.get(), later.timedOut.get(), broken, clients.broken(), later.broken());
                assertThat(failed).as("streams failed").isZero();
                assertThat(broken).as("connections broken").isZero();
                assertThat(ok).as("streams echoed").isGreaterThan(8 * 20);
            }
            // the clients closed their connections: both old servers drain and end
            assertThat(childLine("a", "EXIT")).isEqualTo("EXIT connections=8");
            assertThat(childLine("b", "EXIT")).as("the new connections went to b, the working one then")
                    .isEqualTo("EXIT connections=4");
            Child c = children.get(2);
            c.quit();
            assertThat(c.await("EXIT")).isEqualTo("EXIT connections=0");
        } finally {
            NettyTesting.shutdown(loops);
        }
    }

    @Test
    void todaysHandoffPassingTheSocketsBreaksQuicConnections() throws Exception {
        EventLoopGroup loops = NettyTesting.epollLoops(2);
        try {
            Child a = server("a", true, null);
            port = field(a.await("READY"), "port");
            try (QuicEchoClients clients = new QuicEchoClients(50, 1_000)) {
                clients.connect(loops, new InetSocketAddress(NettyTesting.LO, port), 8);
                clients.start();
                Child b = server("b", false, "a");
                b.await("READY"); // a lets go (or, past the exchange's deadline on a loaded machine, both serve the sockets)
                Thread.sleep(1_200);
                System.out.printf("quic sockets passed: connections=%d streams_ok=%d streams_failed=%d broken=%d%n",
                        clients.connected(), clients.ok.get(), clients.failed.get(), clients.broken());
                assertThat(clients.broken()).as("connections broken by passing the sockets (the scenario is real)")
                        .isPositive();
            }
            children.get(1).quit();
        } finally {
            NettyTesting.shutdown(loops);
        }
    }

    /**
     * Two things the side taking over must get right, in one run (a server JVM and a take-over cost seconds):
     * (1) QUIC handshakes in flight during the hand-off: each client's Initial reached the old process, which
     * answered, and its answers are held back (a relay) until this side has taken over; the handshakes then
     * complete on the old process (the Initials' connection ids are remembered for the socket that first got
     * them, and the server's connection ids steer to its generation), none breaks. (2) The old process is
     * then killed (-9) while it drains: this side sees its sockets gone and retires its generation (the
     * program keeps no dead entry); the old connections' packets carry a cookie of a generation that is gone
     * and go to the working one by the policy (those connections are lost: their state died with the
     * process), while the working generation's connections and new ones go on unaffected.
     */
    @Test
    void handshakesInFlightCompleteOnTheOldProcessAndAKilledOnesGenerationIsRetired() throws Exception {
        EventLoopGroup loops = NettyTesting.epollLoops(2);
        EventLoopGroup serverLoops = NettyTesting.epollLoops(2);
        QuicEcho.Echo echo = new QuicEcho.Echo();
        ReuseportGroup taken = null;
        NettyQuic quic = null;
        try {
            Child a = server("a", true, null);
            String ready = a.await("READY");
            port = field(ready, "port");
            int genA = field(ready, "generation");
            InetSocketAddress target = new InetSocketAddress(NettyTesting.LO, port);
            try (NatRelay relay = new NatRelay(target, 1_000, 120_000);
                 QuicEchoClients old = new QuicEchoClients(50, 1_000);
                 QuicEchoClients inFlight = new QuicEchoClients(50, 1_000, 30);
                 QuicEchoClients live = new QuicEchoClients(50, 1_000);
                 QuicEchoClients after = new QuicEchoClients(50, 1_000)) {
                old.connect(loops, target, 4);
                old.start();
                relay.hold(true);
                inFlight.begin(loops, relay.address(), 4);
                assertThat(waitFor(() -> relay.heldClients.get() >= 4, 10_000))
                        .as("the old process answered every Initial (answers held: %d)", relay.held.get()).isTrue();
                taken = takeOverHere("a");
                quic = NettyQuic.serve(taken, serverLoops, QuicEcho.serverCodec(QuicEcho.serverSsl(keystore), echo));
                a.await("DRAINING");
                int genT = taken.cookieGeneration()[0];
                long held = relay.held.get();
                relay.hold(false);
                inFlight.finish(30);
                inFlight.start();
                live.connect(loops, target, 4);
                live.start();
                assertThat(taken.liveGenerations()).as("the draining generation and the working one")
                        .containsExactlyInAnyOrder(genA, genT);
                Thread.sleep(1_300); // every stream opened so far has had its time
                System.out.printf("quic handshakes in flight: %d answers held; in flight ok=%d failed=%d broken=%d; "
                        + "old ok=%d failed=%d; served here %d%n", held, inFlight.ok.get(), inFlight.failed.get(),
                        inFlight.broken(), old.ok.get(), old.failed.get(), echo.connectionCount());
                assertThat(inFlight.connected()).isEqualTo(4);
                assertThat(inFlight.failed.get()).as("streams of the handshakes in flight failed").isZero();
                assertThat(inFlight.broken()).isZero();
                assertThat(inFlight.ok.get()).isGreaterThan(4 * 10);
                assertThat(old.failed.get()).as("streams of the old connections, served while draining").isZero();
                assertThat(echo.connectionCount()).as("the handshakes in flight completed on the old process")
                        .isEqualTo(4);
                long goneBefore = gone(taken);

                a.process.destroyForcibly(); // SIGKILL, mid-drain
                assertThat(a.process.waitFor(10, TimeUnit.SECONDS)).isTrue();
                long killed = System.nanoTime();
                ReuseportGroup t = taken;
                assertThat(waitFor(() -> t.liveGenerations().equals(List.of(genT)), 5_000))
                        .as("generation %d of the killed process retired (live: %s)", genA, taken.liveGenerations())
                        .isTrue();
                System.out.printf("quic killed drain: generation %d retired %d ms after the kill%n", genA,
                        (System.nanoTime() - killed) / 1_000_000);
                assertThat(taken.audit().entries()).anyMatch(e -> e.contains("generation-retired")
                        && e.contains("the new side"));
                assertThat(waitFor(() -> gone(t) > goneBefore, 5_000))
                        .as("the old connections' packets: a cookie of a generation that is gone").isTrue();
                long liveOk = live.ok.get();
                after.connect(loops, target, 4);
                after.start();
                Thread.sleep(1_300);
                System.out.printf("quic killed drain: old broken=%d, in flight broken=%d; live ok=%d failed=%d "
                        + "broken=%d; after ok=%d failed=%d broken=%d; gone=%d%n", old.broken(), inFlight.broken(),
                        live.ok.get(), live.failed.get(), live.broken(), after.ok.get(), after.failed.get(),
                        after.broken(), gone(taken) - goneBefore);
                assertThat(live.failed.get()).as("streams of the working generation's connections failed").isZero();
                assertThat(live.broken()).isZero();
                assertThat(live.ok.get()).as("the working generation's connections go on").isGreaterThan(liveOk + 4 * 10);
                assertThat(after.failed.get()).as("streams of connections made after the kill failed").isZero();
                assertThat(after.broken()).isZero();
                assertThat(after.ok.get()).isGreaterThan(4 * 10);
                assertThat(old.broken()).as("the killed process's connections are lost (expected)").isEqualTo(4);
                assertThat(inFlight.broken()).as("as are those whose handshakes completed there").isEqualTo(4);
                assertThat(echo.connectionCount()).as("this side serves its own connections only").isEqualTo(8);
                assertThat(quic.misrouted()).isZero();
            }
        } finally {
            if (quic != null) {
                quic.close();
            }
            if (taken != null) {
                taken.close();
            }
            NettyTesting.shutdown(serverLoops);
            NettyTesting.shutdown(loops);
        }
    }

    /** Takes the group over here, from the server whose control socket is {@code from}. */
    private ReuseportGroup takeOverHere(String from) throws IOException {
        return ReuseportGroup.takeOver(dir.resolve(from), ReuseportGroup.udp().address(NettyTesting.LO).workers(2)
                .policy(Policy.roundRobin()).dissector(Dissector.quic(16)).port(port));
    }

    private static long gone(ReuseportGroup g) {
        try {
            return g.dissectorCounters().get(Dissector.Kind.QUIC).gone();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    private static boolean waitFor(Check c, long millis) throws Exception {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!c.holds()) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    private String childLine(String name, String prefix) throws InterruptedException {
        return children.stream().filter(c -> c.name.equals(name)).findFirst().orElseThrow().await(prefix);
    }
}
