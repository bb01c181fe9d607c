package dev.reuseport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import org.junit.jupiter.api.AfterEach;
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
 */
@Tag("kernel")
@Timeout(300)
class NettyQuicGenerationsTest {
    private Path dir;
    private final List<Child> children = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        NettyTesting.assumeEpoll();
        NettyTesting.assumeSteering();
        assumeTrue(Quic.isAvailable(), "Netty QUIC natives unavailable: " + Quic.unavailabilityCause());
        dir = Files.createTempDirectory("rp-quic-gen", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        QuicTesting.keystore(dir.resolve("server.p12"));
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
        return new Child(name, generations, previous == null ? "first" : "take", dir.resolve("server.p12").toString(),
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
            try (QuicTesting.Clients clients = new QuicTesting.Clients(50, 1_000);
                 QuicTesting.Clients later = new QuicTesting.Clients(50, 1_000)) {
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
                        + "broken=%d%n", clients.connected() + later.connected(), ok, failed, broken);
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
            try (QuicTesting.Clients clients = new QuicTesting.Clients(50, 1_000)) {
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

    private String childLine(String name, String prefix) throws InterruptedException {
        return children.stream().filter(c -> c.name.equals(name)).findFirst().orElseThrow().await(prefix);
    }
}
