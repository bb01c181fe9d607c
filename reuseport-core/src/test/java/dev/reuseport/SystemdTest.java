package dev.reuseport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.sys.internal.Sys;
import dev.reuseport.testkit.ChildJvm;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Socket activation and the file-descriptor store with real descriptors: a small Python stand-in for
 * systemd ({@code systemd-sim.py}) makes the sockets, places them at descriptors 3.. and execs a child JVM
 * with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, or keeps what the child stores with FDSTORE=1 and restarts
 * it after kill -9. The same under a real booted systemd: scripts/systemd-test.sh.
 */
class SystemdTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static Path sim;

    @BeforeAll
    static void simulator() throws IOException {
        assumeTrue(Files.isExecutable(Path.of(PYTHON)), "needs " + PYTHON + " (python3-minimal) to stand in for systemd");
        sim = Files.createTempFile("systemd-sim", ".py");
        sim.toFile().deleteOnExit();
        try (InputStream in = SystemdTest.class.getResourceAsStream("systemd-sim.py")) {
            Files.write(sim, in.readAllBytes());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Runs SystemdChild under the stand-in: {@code pass SPECS} or {@code store PORT}. */
    private static String run(List<String> sim, String... childArgs) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(PYTHON, SystemdTest.sim.toString()));
        cmd.addAll(sim);
        cmd.add("--");
        cmd.addAll(ChildJvm.javaCommand(SystemdChild.class, childArgs));
        ChildJvm.Outcome o = ChildJvm.runCommand(cmd, SystemdChild.class);
        System.out.println(o.output());
        return o.output();
    }

    private static String adopt(String specs, String protocol, int port, int workers, int passed) throws Exception {
        return run(List.of("pass", specs), "adopt", protocol, Integer.toString(port), Integer.toString(workers),
                Integer.toString(passed));
    }

    @Test
    void passedListenersAreAdoptedCloseOnExecAndTheVariablesCleared() throws Exception {
        int port = freePort();
        String out = adopt("tcp:" + port + ",tcp:" + port, "tcp", port, 2, 2);
        assertTrue(out.contains("OPEN port=" + port + " workers=2 fd3_cloexec=true_nonblock=true fd4_cloexec=true_nonblock=true"), out);
        assertTrue(out.contains("ECHOED 4"), "the serving loop must serve the adopted sockets: " + out);
        assertTrue(out.contains("CHILD_ENV [][][]"), "a child process still sees LISTEN_*: " + out);
        assertTrue(out.contains("AGAIN 2"), "a second passed() must return what the first took: " + out);
    }

    /** A socket as a .socket unit would pass it: KIND tcp, udp, tcp-unlistened; without SO_REUSEPORT when asked. */
    private static Systemd.Passed socket(String name, String kind, int port, boolean reusePort) throws Exception {
        int fd = Sys.socket(2 /* AF_INET */, kind.equals("udp") ? Sys.SOCK_DGRAM : Sys.SOCK_STREAM, 0);
        if (reusePort) {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
        }
        Sys.bind(fd, new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2);
        if (kind.equals("tcp")) {
            Sys.listen(fd, 16);
        }
        return new Systemd.Passed(name, fd);
    }

    /** Adopting {@code passed} into a TCP group of {@code workers} on {@code port} fails; every one closed. */
    private static String refused(int port, int workers, Systemd.Passed... passed) {
        SystemdException e = assertThrows(SystemdException.class, () -> Systemd.adopt(List.of(passed),
                ReuseportGroup.tcp().address("127.0.0.1").port(port).workers(workers)).close());
        for (Systemd.Passed p : passed) {
            assertFalse(Files.exists(Path.of("/proc/self/fd/" + p.fd())), "passed descriptor " + p.fd()
                    + " left open after: " + e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void fewerSocketsThanWorkersIsRefusedAndNothingLeaks() throws Exception {
        int port = freePort();
        Systemd.Passed a = socket("web", "tcp", port, true);
        String m = refused(port, 2, a);
        assertTrue(m.startsWith("fewer sockets passed (1: [" + a.fd() + "=web]) than the group's 2 workers"), m);
    }

    @Test
    void aSocketOfTheWrongTypeIsRefusedAndNothingLeaks() throws Exception {
        int port = freePort();
        Systemd.Passed a = socket("a", "tcp", port, true);
        Systemd.Passed b = socket("b", "udp", port, true);
        String m = refused(port, 2, a, b);
        assertTrue(m.startsWith("passed descriptor " + b.fd() + " ('b') is a datagram socket; accepted: a stream"), m);
    }

    @Test
    void aSocketOnTheWrongPortIsRefused() throws Exception {
        int port = freePort();
        int other = freePort();
        Systemd.Passed a = socket("a", "tcp", port, true);
        Systemd.Passed b = socket("b", "tcp", other, true);
        String m = refused(port, 2, a, b);
        assertTrue(m.startsWith("passed descriptor " + b.fd() + " ('b') is bound to port " + other
                + "; accepted: port " + port), m);
    }

    @Test
    void aSocketWithoutReusePortOrNotListeningOrNotASocketIsRefused() throws Exception {
        int port = freePort();
        assertTrue(refused(port, 1, socket("a", "tcp", port, false)).contains(
                "has no SO_REUSEPORT; accepted: sockets with SO_REUSEPORT"));
        assertTrue(refused(port, 1, socket("a", "tcp-unlistened", port, true)).contains(
                "is a TCP socket that is not listening"));
        int file = Sys.eventfd();
        String m = refused(port, 1, new Systemd.Passed("f", file));
        assertTrue(m.startsWith("passed descriptor " + file + " ('f') is not a socket"), m);
    }

    @Test
    void theSameSocketPassedTwiceIsAdoptedOnce() throws Exception {
        int port = freePort();
        Systemd.Passed a = socket("web", "tcp", port, true);
        Systemd.Passed again = new Systemd.Passed(Systemd.SLOT_PREFIX + "0", Sys.dup(a.fd()));
        Path aLink = Path.of("/proc/self/fd/" + a.fd());
        Path socketInode = Files.readSymbolicLink(aLink);
        try (ReuseportGroup g = Systemd.adopt(List.of(a, again), ReuseportGroup.tcp().address("127.0.0.1").port(port)
                .workers(1))) {
            assertEquals(1, g.workers().size());
            assertEquals(again.fd(), g.workers().get(0).socket().number(), "the slot-named copy is kept");
            // closed: the number is free, or reused by another file (opening the group opens more)
            assertFalse(Files.exists(aLink) && Files.readSymbolicLink(aLink).equals(socketInode), "the duplicate "
                    + a.fd() + " still holds " + socketInode);
        }
    }

    @Test
    void malformedVariablesAreTypedErrorsNamingTheValue() {
        SystemdException e = assertThrows(SystemdException.class, () -> Systemd.parse("12x", "2", null, 12));
        assertEquals("LISTEN_PID='12x' is not a process id; accepted: 1..2147483647", e.getMessage());
        e = assertThrows(SystemdException.class, () -> Systemd.parse("12", "-1", null, 12));
        assertEquals("LISTEN_FDS='-1' is not a count of descriptors; accepted: 1..4096", e.getMessage());
        e = assertThrows(SystemdException.class, () -> Systemd.parse("12", "99999", null, 12));
        assertTrue(e.getMessage().startsWith("LISTEN_FDS='99999' is not a count"), e.getMessage());
        e = assertThrows(SystemdException.class, () -> Systemd.parse("13", "1", null, 12));
        assertEquals("LISTEN_PID=13 names another process (this one is 12): the descriptors were passed to that "
                + "one; accepted: LISTEN_PID=12", e.getMessage());
        e = assertThrows(SystemdException.class, () -> Systemd.parse(null, "1", null, 12));
        assertTrue(e.getMessage().startsWith("LISTEN_FDS='1' without LISTEN_PID"), e.getMessage());
        e = assertThrows(SystemdException.class, () -> Systemd.parse("12", "2", "a:b:c", 12));
        assertTrue(e.getMessage().startsWith("LISTEN_FDNAMES='a:b:c' names 3 descriptors but LISTEN_FDS=2"),
                e.getMessage());
        assertEquals(List.of("unknown", "unknown"), assertDoesNotThrow(() -> Systemd.parse("12", "2", null, 12)));
        assertEquals(List.of(), assertDoesNotThrow(() -> Systemd.parse(null, null, null, 12)));
    }

    private static <T> T assertDoesNotThrow(org.junit.jupiter.api.function.ThrowingSupplier<T> s) {
        return org.junit.jupiter.api.Assertions.assertDoesNotThrow(s);
    }

    @Test
    void notifySocketAddressesArePathsOrAbstractNames() throws Exception {
        byte[] a = SystemdNotify.notifyAddress("@sd");
        assertArrayEquals(new byte[] {1, 0, 0, 's', 'd'}, a);
        byte[] p = SystemdNotify.notifyAddress("/run/x");
        assertEquals(2 + 6 + 1, p.length);
        assertEquals(0, p[p.length - 1]);
        SystemdException e = assertThrows(SystemdException.class, () -> SystemdNotify.notifyAddress("relative"));
        assertTrue(e.getMessage().startsWith("NOTIFY_SOCKET='relative' is not a Unix socket address"), e.getMessage());
        assertThrows(SystemdException.class, () -> SystemdNotify.notifyAddress("/" + "x".repeat(107)));
    }

    @Test
    void storedSocketsSurviveKillAndTheQueuedConnectionIsServedByTheNextProcess() throws Exception {
        int port = freePort();
        String out = run(List.of("store", Integer.toString(port)), "serve", Integer.toString(port), "2");
        Matcher ready = Pattern.compile("SIM ready pid=(\\d+) mainpid=(\\d+) status=serving 2 workers on port "
                + port + " stored=(\\d+)").matcher(out);
        assertTrue(ready.find(), out);
        assertEquals(ready.group(1), ready.group(2), "MAINPID is the process systemd started: " + out);
        // the two sockets, and the migrate program with its maps where the host can load it
        int steering = 1 + dev.reuseport.bpf.SteerProgram.MAPS.size();
        assertTrue(ready.group(3).equals("2") || ready.group(3).equals(Integer.toString(2 + steering)), out);
        assertTrue(out.contains("SIM names=reuseport-slot-0,reuseport-slot-1"), out);
        if (!ready.group(3).equals("2")) {
            assertTrue(out.contains(",reuseport-steer-program/" + dev.reuseport.bpf.SteerProgram.MIGRATE_TCP + "/0/kernel-hash\n"), out);
        }
        for (int round = 0; round < 1; round++) {
            Matcher m = Pattern.compile("SIM round=" + round + " queued answer=pid=(\\d+) slot=\\d newpid=(\\d+)")
                    .matcher(out);
            assertTrue(m.find(), "the connection made while no process ran was not served by the next one: " + out);
            assertEquals(m.group(2), m.group(1), out);
        }
        assertTrue(out.contains("SIM done exit=143") || out.contains("SIM done exit=-15"), out);
    }
}
