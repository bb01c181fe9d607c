package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.Dissector;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.QuicCid;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Socket generations across a hand-off, packet by packet (the two sides in one JVM: the kernel sees two
 * sets of sockets in one reuseport group and one shared program, as with two processes). A QUIC group taken
 * over opens sockets of its own as a new generation: a packet bearing the old generation's cookie reaches
 * the old socket while the new generation works; random and forged connection ids never reach an old
 * generation's socket; once the old side closes (drained), its generation is retired and its cookies count
 * as "gone", steered to the new generation. Without generations ({@code reuseport.generations=off}) the
 * take-over passes the sockets and the old group lets go.
 */
@Tag("kernel")
@Timeout(60)
class GenerationHandoffTest {
    private static final int CID = 16;
    private static final InetAddress LO = InetAddress.getLoopbackAddress();

    @Test
    void oldCookiesReachTheOldSocketsRandomIdsNeverDoAndRetirementMakesThemGone() throws Exception {
        assumeTrue(Probes.steeringAvailable(Probes.steering()), "eBPF steering unavailable: " + Probes.steering());
        Path dir = Files.createTempDirectory("rp-gen", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Random rnd = new Random(14);
        ReuseportGroup old = ReuseportGroup.udp().address(LO).workers(2).policy(Policy.roundRobin())
                .dissector(Dissector.quic(CID)).open();
        ReuseportGroup taken = null;
        try (ControlSocket cs = ControlSocket.serve(old, dir.resolve("ctl"), false)) {
            int[] og = old.cookieGeneration();
            assertThat(og[2]).as("a group's first generation starts at slot 0").isZero();
            byte[] oldCookie = QuicCid.encode(CID, 0, og[0], 1, og[1], rnd);

            taken = ReuseportGroup.takeOver(dir.resolve("ctl"), null);
            assertThat(cs.awaitHandOff(java.time.Duration.ofSeconds(5))).isTrue();
            int[] ng = taken.cookieGeneration();
            assertThat(ng[0]).as("the new side's working generation").isNotEqualTo(og[0]);
            assertThat(ng[2]).as("its first slot: a range beside the old one").isEqualTo(64);
            assertThat(taken.workers()).extracting(Worker::slot).containsExactly(64, 65);
            assertThat(taken.audit().entries()).anyMatch(e -> e.contains("takeover-generation"));
            assertThat(old.draining()).as("the old group drains").isTrue();
            assertThat(old.isClosed()).isFalse();
            assertThat(old.audit().entries()).anyMatch(e -> e.contains("generation-superseded"));
            assertThatThrownBy(old::restart).as("a draining group's membership is frozen")
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> old.applyPolicy(Policy.consistent())).as("and its steering")
                    .hasMessageContaining("draining");

            // the old generation's cookie reaches its socket, whatever the source port
            for (int i = 0; i < 5; i++) {
                assertThat(sendAndFind(old, taken, shortHeader(oldCookie))).as("old cookie, round %d", i)
                        .isEqualTo("old:1");
            }
            // the new generation's cookies reach the new sockets
            for (int w = 0; w < 2; w++) {
                byte[] c = QuicCid.encode(CID, 0, ng[0], w, ng[1], rnd);
                assertThat(sendAndFind(old, taken, shortHeader(c))).isEqualTo("new:" + (64 + w));
            }
            // random ids (a client's Initial) and forged cookies of the old generation never reach it
            for (int i = 0; i < 40; i++) {
                byte[] random = new byte[CID];
                rnd.nextBytes(random);
                assertThat(sendAndFind(old, taken, i % 2 == 0 ? shortHeader(random) : longHeader(random)))
                        .as("random id %d", i).startsWith("new:");
                byte[] forged = QuicCid.encode(CID, 0, og[0], i % 2, og[1] ^ (0x10001 << (i % 15)), rnd);
                assertThat(sendAndFind(old, taken, shortHeader(forged))).as("forged id %d", i).startsWith("new:");
            }
            SteerProgram.DissectorCounters before = taken.dissectorCounters().get(Dissector.Kind.QUIC);
            assertThat(before.cookie()).isGreaterThanOrEqualTo(7);

            // the old side drained: closing retires its generation; its cookies are "gone", steered to the new one
            old.close();
            SteerProgram.Generation g = taken.engine().steering().program().generation(og[0]);
            assertThat(g.state()).isEqualTo(SteerProgram.GenerationState.RETIRED);
            assertThat(old.audit().entries()).anyMatch(e -> e.contains("generation-retired"));
            assertThat(sendAndFind(old, taken, shortHeader(oldCookie))).startsWith("new:");
            SteerProgram.DissectorCounters after = taken.dissectorCounters().get(Dissector.Kind.QUIC);
            assertThat(after.gone() - before.gone()).as("the old cookie after retirement counts gone").isEqualTo(1);
        } finally {
            old.close();
            if (taken != null) {
                taken.close();
            }
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void fourGenerationsLiveAtOnceAndARetiredOneFreesItsNumberAndRange() throws Exception {
        assumeTrue(Probes.steeringAvailable(Probes.steering()), "eBPF steering unavailable: " + Probes.steering());
        Path dir = Files.createTempDirectory("rp-gen4", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        java.util.List<ReuseportGroup> groups = new java.util.ArrayList<>();
        Random rnd = new Random(4);
        try {
            groups.add(ReuseportGroup.udp().address(LO).workers(1).policy(Policy.roundRobin())
                    .dissector(Dissector.quic(CID)).open());
            java.util.List<byte[]> cookies = new java.util.ArrayList<>();
            for (int i = 1; i <= 4; i++) {
                ReuseportGroup prev = groups.get(groups.size() - 1);
                int[] pg = prev.cookieGeneration();
                cookies.add(QuicCid.encode(CID, 0, pg[0], 0, pg[1], rnd));
                try (ControlSocket cs = ControlSocket.serve(prev, dir.resolve("ctl" + i), false)) {
                    if (i == 4) { // four live: no room for a fifth until one retires
                        assertThatThrownBy(() -> ReuseportGroup.takeOver(dir.resolve("ctl4"), null))
                                .hasMessageContaining("no socket generation");
                        assertThat(prev.draining()).as("a refused take-over leaves the old side serving").isFalse();
                        groups.get(0).close(); // the oldest drained: its generation retires, its range frees
                        cookies.set(0, null);
                    }
                    groups.add(ReuseportGroup.takeOver(dir.resolve("ctl" + i), null));
                    assertThat(cs.awaitHandOff(java.time.Duration.ofSeconds(5))).isTrue();
                }
            }
            ReuseportGroup working = groups.get(groups.size() - 1);
            assertThat(working.workers().get(0).slot()).as("the freed range of the first generation").isZero();
            // every live old generation still gets its own cookie
            for (int i = 1; i < 4; i++) {
                assertThat(sendAndFind(groups.get(i), working, shortHeader(cookies.get(i)))).isEqualTo("old:"
                        + groups.get(i).workers().get(0).slot());
            }
        } finally {
            for (ReuseportGroup g : groups) {
                g.close();
            }
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aProvenPeerNamingAGenerationTheProgramDoesNotWorkIsRefusedAndTheOldSideKeepsServing() throws Exception {
        assumeTrue(Probes.steeringAvailable(Probes.steering()), "eBPF steering unavailable: " + Probes.steering());
        Path dir = Files.createTempDirectory("rp-gen-hostile", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        java.util.List<Integer> received = new java.util.ArrayList<>();
        try (ReuseportGroup old = ReuseportGroup.udp().address(LO).workers(2).policy(Policy.roundRobin())
                .dissector(Dissector.quic(CID)).open();
             ControlSocket cs = ControlSocket.serve(old, dir.resolve("ctl"), false);
             jnr.unixsocket.UnixSocketChannel ch = jnr.unixsocket.UnixSocketChannel.open(
                     new jnr.unixsocket.UnixSocketAddress(dir.resolve("ctl").toFile()))) {
            dev.reuseport.internal.wire.ControlLines lines = new dev.reuseport.internal.wire.ControlLines(ch.getFD());
            lines.writeLine("handoff " + dev.reuseport.handoff.Handoff.VERSION);
            String head = lines.readLine();
            assertThat(head).startsWith("OK handoff");
            int total = Integer.parseInt(head.split(" ")[4]);
            int[] fds = new int[200];
            java.util.Arrays.fill(fds, -1);
            Sys.receiveFds(ch.getFD(), new byte[16], fds);
            for (int fd : fds) {
                if (fd >= 0) {
                    received.add(fd);
                }
            }
            assertThat(received).hasSize(total);
            assertThat(lines.readLine()).startsWith("LAYOUT");
            StringBuilder ready = new StringBuilder("ready cookies=");
            for (int i = 0; i < 2; i++) { // the sockets come first, in slot order: a proof like a real peer's
                ready.append(i == 0 ? "" : ",").append(Long.toHexString(Sys.getLong(received.get(i), Sys.SOL_SOCKET,
                        Sys.SO_COOKIE)));
            }
            lines.writeLine(ready.toString());
            assertThat(lines.readLine()).isEqualTo("OK go");
            int bogus = (old.cookieGeneration()[0] + 77) % 256; // never set up: UNUSED
            lines.writeLine("serving generation=" + bogus);
            assertThat(lines.readLine()).startsWith("ERR handoff generation " + bogus + " refused");
            assertThat(old.draining()).as("the old side does not drain into a generation the program does not work")
                    .isFalse();
            assertThat(old.isClosed()).isFalse();
            assertThat(cs.handedOff()).isFalse();
            assertThat(old.audit().entries()).anyMatch(e -> e.contains("handoff-generation-refused"));
            old.resize(3); // membership is free again
            assertThat(old.workers()).hasSize(3);
        } finally {
            for (int fd : received) {
                Sys.close(fd);
            }
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static ByteBuffer shortHeader(byte[] cid) {
        ByteBuffer b = ByteBuffer.allocateDirect(1 + cid.length + 24);
        b.put((byte) 0x40).put(cid).position(b.limit()).flip();
        return b;
    }

    /** An Initial-like long header: version 1, DCID, empty SCID, some padding. */
    private static ByteBuffer longHeader(byte[] dcid) {
        ByteBuffer b = ByteBuffer.allocateDirect(6 + dcid.length + 1 + 40);
        b.put((byte) 0xc0).putInt(1).put((byte) dcid.length).put(dcid).put((byte) 0).position(b.limit()).flip();
        return b;
    }

    /** Sends from a fresh socket and returns which side's socket got it ({@code old:slot}, {@code new:slot}). */
    private static String sendAndFind(ReuseportGroup old, ReuseportGroup taken, ByteBuffer pkt) throws Exception {
        int fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
        try {
            Sys.send(fd, pkt.duplicate(), new InetSocketAddress(LO, taken.localAddress().getPort()), SockAddr.AF_INET,
                    0);
        } finally {
            Sys.close(fd);
        }
        long until = System.nanoTime() + 3_000_000_000L;
        ByteBuffer rx = ByteBuffer.allocateDirect(128);
        while (System.nanoTime() < until) {
            for (ReuseportGroup g : new ReuseportGroup[] {old, taken}) {
                if (g.isClosed()) {
                    continue;
                }
                for (Worker w : g.workers()) {
                    int s = w.socket().acquire();
                    try {
                        rx.clear();
                        if (Sys.receive(s, rx, Sys.MSG_DONTWAIT) != null) {
                            return (g == old ? "old:" : "new:") + w.slot();
                        }
                    } finally {
                        w.socket().release();
                    }
                }
            }
            Thread.sleep(1);
        }
        return "none";
    }
}
