package dev.reuseport.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.reuseport.bpf.SteerProgram.DissectorCounters;
import dev.reuseport.bpf.SteerProgram.Mode;
import dev.reuseport.bpf.TestGroup.Proto;
import dev.reuseport.testkit.KernelAssumptions;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The dissectors of the steering program, packet by packet with raw UDP on IPv4 and IPv6: each test sends
 * hand-made datagrams and asserts which member received each one, and what the dissector counted. The
 * policy in force is a one-entry table naming a member no cookie points at ({@code POLICY}), so "steered
 * by the policy" and "steered by the cookie" can be told apart.
 */
@Tag("kernel")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SteerDissectorTest {
    private static final int CID_LEN = 12;
    private static final int KEY = 0x5eed1234;
    /** The member the policy table names in most tests. */
    private static final int POLICY = 3;

    @BeforeAll
    static void steeringIsAvailable() {
        KernelSupport.requireSteering();
    }

    private static InetAddress on(String host) throws Exception {
        if (host.contains(":")) {
            KernelAssumptions.assumeIpv6();
        }
        return InetAddress.getByName(host);
    }

    private static int[] identity(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = from + i;
        }
        return t;
    }

    /** A QUIC short-header packet: first octet 0x40 (fixed bit), the DCID, some protected bytes. */
    static byte[] shortHeader(byte[] dcid) {
        ByteBuffer b = ByteBuffer.allocate(1 + dcid.length + 24);
        b.put((byte) 0x43).put(dcid);
        while (b.hasRemaining()) {
            b.put((byte) 0xA5);
        }
        return b.array();
    }

    /** A QUIC v1 long-header packet of a type (0 Initial, 2 Handshake), padded to {@code size} octets. */
    static byte[] longHeader(int type, byte[] dcid, int size) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(size, 7 + dcid.length + 8));
        b.put((byte) (0xC0 | type << 4)).putInt(1).put((byte) dcid.length).put(dcid);
        b.put((byte) 8).put(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}); // SCID
        while (b.hasRemaining()) {
            b.put((byte) 0);
        }
        return b.array();
    }

    private static List<DatagramSocket> clients(TestGroup g, int n) throws Exception {
        List<DatagramSocket> c = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            c.add(g.udpClient());
        }
        return c;
    }

    private static void closeAll(List<DatagramSocket> c) {
        for (DatagramSocket s : c) {
            s.close();
        }
    }

    private static DissectorCounters minus(DissectorCounters a, DissectorCounters b) {
        return new DissectorCounters(a.cookie() - b.cookie(), a.noCookie() - b.noCookie(), a.gone() - b.gone(),
                a.malformed() - b.malformed(), a.flowHit() - b.flowHit(), a.flowMiss() - b.flowMiss(),
                a.flowExpired() - b.flowExpired());
    }

    /** Program loaded, members in slots 0..n-1, attached, the policy table {@code [policy]} in HASH mode. */
    private static SteerProgram steered(TestGroup g, int policy) throws Exception {
        SteerProgram p = SteerProgram.load(false);
        try {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.publish(Mode.HASH, new int[] {policy}, false, 1);
            return p;
        } catch (Exception | Error e) {
            p.close();
            throw e;
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void quicCookiesReachTheirSlotInEveryLiveGeneration(String host) throws Exception {
        Random rnd = new Random(1);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 8); SteerProgram p = steered(g, 7)) {
            // four live generations of two slots each, numbered across the wrap: 254, 255, 0, 1
            int[] gens = {254, 255, 0, 1};
            for (int i = 0; i < gens.length; i++) {
                p.setGeneration(gens[i], 2 * i, 2, KEY + gens[i]);
            }
            p.setWorkingGeneration(1);
            p.setDissector(Dissector.quic(CID_LEN));
            assertThat(p.dissector()).isEqualTo(Dissector.quic(CID_LEN));
            assertThat(p.workingGeneration()).isEqualTo(1);
            List<DatagramSocket> cs = clients(g, 4);
            List<String> wrong = new ArrayList<>();
            int sent = 0;
            try {
                for (int i = 0; i < gens.length; i++) {
                    for (int w = 0; w < 2; w++) {
                        int want = 2 * i + w;
                        for (DatagramSocket c : cs) {
                            byte[] cid = QuicCid.encode(CID_LEN, 0, gens[i], w, KEY + gens[i], rnd);
                            int shortTo = g.sendOne(c, shortHeader(cid));
                            int longTo = g.sendOne(c, longHeader(2, cid, 200));
                            sent += 2;
                            if (shortTo != want || longTo != want) {
                                wrong.add("generation " + gens[i] + " worker " + w + " (slot " + want + "): short -> "
                                        + shortTo + ", handshake -> " + longTo);
                            }
                        }
                    }
                }
            } finally {
                closeAll(cs);
            }
            assertThat(wrong).as("%s: cookie-bearing packets that missed their slot", g).isEmpty();
            DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
            assertThat(c.cookie()).as("QUIC counters %s", c).isEqualTo(sent);
            assertThat(c.noCookie() + c.gone() + c.malformed()).as("QUIC counters %s", c).isZero();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void randomAndForgedCidsNeverGoByCookie(String host) throws Exception {
        Random rnd = new Random(2);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 3, KEY);
            p.setDissector(Dissector.quic(CID_LEN));
            List<DatagramSocket> cs = clients(g, 4);
            List<String> wrong = new ArrayList<>();
            int forged = 0;
            try {
                for (int i = 0; i < 300; i++) {
                    byte[] cid = new byte[CID_LEN];
                    rnd.nextBytes(cid);
                    if (i % 3 != 0) {
                        // the layout right, generation 0 live, worker 0..2: only the check bits can tell
                        cid[0] = (byte) (CID_LEN - 1);
                        cid[1] = 0;
                        cid[2] = (byte) (i % 3);
                    }
                    if (QuicCid.decode(cid, CID_LEN, 0).map(k -> k.generation() == 0 && k.matches(KEY)).orElse(false)) {
                        continue; // a random id that happens to be genuine (p = 2^-16): not a forgery
                    }
                    forged++;
                    int to = g.sendOne(cs.get(i % cs.size()), i % 2 == 0 ? shortHeader(cid) : longHeader(2, cid, 100));
                    if (to != POLICY) {
                        wrong.add("cid " + java.util.HexFormat.of().formatHex(cid) + " -> member " + to);
                    }
                }
                // genuine check bits but the key of another generation (a forgery from an old key)
                byte[] oldKey = QuicCid.encode(CID_LEN, 0, 0, 1, KEY + 1, rnd);
                forged++;
                int to = g.sendOne(cs.get(0), shortHeader(oldKey));
                if (to != POLICY) {
                    wrong.add("id under another key -> member " + to);
                }
                // a generation never set up, and a config rotation not configured
                forged += 2;
                to = g.sendOne(cs.get(1), shortHeader(QuicCid.encode(CID_LEN, 0, 9, 1, KEY, rnd)));
                if (to != POLICY) {
                    wrong.add("id of unused generation 9 -> member " + to);
                }
                to = g.sendOne(cs.get(2), shortHeader(QuicCid.encode(CID_LEN, 1, 0, 1, KEY, rnd)));
                if (to != POLICY) {
                    wrong.add("id with config rotation 1 -> member " + to);
                }
            } finally {
                closeAll(cs);
            }
            assertThat(wrong).as("%s: forged or random ids not steered by the policy (member %d)", g, POLICY)
                    .isEmpty();
            DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
            assertThat(c).as("counters after %d forged ids", forged)
                    .isEqualTo(new DissectorCounters(0, forged, 0, 0, 0, 0, 0));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void cookiesOfRetiredGenerationsOrClosedSocketsCountGoneAndFollowThePolicy(String host) throws Exception {
        Random rnd = new Random(3);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 2, KEY);
            p.setGeneration(1, 2, 1, KEY + 1);
            p.setDissector(Dissector.quic(CID_LEN));
            try (DatagramSocket c = g.udpClient()) {
                byte[] gen0 = QuicCid.encode(CID_LEN, 0, 0, 1, KEY, rnd);
                byte[] gen1 = QuicCid.encode(CID_LEN, 0, 1, 0, KEY + 1, rnd);
                byte[] pastCount = QuicCid.encode(CID_LEN, 0, 1, 1, KEY + 1, rnd);
                assertThat(g.sendOne(c, shortHeader(gen0))).as("generation 0 worker 1, live").isEqualTo(1);
                assertThat(g.sendOne(c, shortHeader(gen1))).as("generation 1 worker 0, live").isEqualTo(2);
                assertThat(g.sendOne(c, shortHeader(pastCount))).as("generation 1 has one slot: worker 1 is gone")
                        .isEqualTo(POLICY);

                p.retireGeneration(0);
                assertThat(p.generation(0)).isEqualTo(new SteerProgram.Generation(0, 0, 2, KEY,
                        SteerProgram.GenerationState.RETIRED));
                assertThat(g.sendOne(c, shortHeader(gen0))).as("generation 0 retired").isEqualTo(POLICY);

                g.closeMember(2);
                assertThat(g.sendOne(c, shortHeader(gen1))).as("generation 1's socket closed").isEqualTo(POLICY);
            }
            DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
            assertThat(c).isEqualTo(new DissectorCounters(2, 0, 3, 0, 0, 0, 0));
            assertThat(p.counters(4)[2].fallback()).as("the closed slot 2 was tried once").isEqualTo(1);
        }
    }

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> hostsAndModes() {
        return java.util.stream.Stream.of("127.0.0.1", "::1").flatMap(h -> java.util.stream.Stream.of(Mode.SEQ,
                Mode.HASH, Mode.STICKY, Mode.CPU).map(m -> org.junit.jupiter.params.provider.Arguments.of(h, m)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.MethodSource("hostsAndModes")
    void initialsWithOneDcidReachOneSocketFromAnySourcePort(String host, Mode mode) throws Exception {
        Random rnd = new Random(4);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = SteerProgram.load(false)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.setGeneration(0, 0, 4, KEY);
            // SEQ is per-datagram round-robin: without the dissector every datagram takes the next member
            p.publish(mode, identity(0, 4), false, 1);
            List<DatagramSocket> cs = clients(g, 4);
            try {
                if (mode == Mode.SEQ) {
                    byte[] probe = new byte[8];
                    rnd.nextBytes(probe);
                    Set<Integer> spread = new HashSet<>();
                    for (DatagramSocket c : cs) {
                        spread.add(g.sendOne(c, longHeader(0, probe, 1200)));
                    }
                    assertThat(spread).as("control: without a dissector one DCID from 4 ports is spread").hasSize(4);
                }

                p.setDissector(Dissector.quic(CID_LEN));
                Set<Integer> used = new HashSet<>();
                List<String> split = new ArrayList<>();
                for (int h = 0; h < 24; h++) {
                    byte[] dcid = new byte[8 + h % 13]; // 8..20 octets: clients choose the length
                    rnd.nextBytes(dcid);
                    Set<Integer> got = new HashSet<>();
                    for (DatagramSocket c : cs) {
                        got.add(g.sendOne(c, longHeader(0, dcid, 1200))); // Initial
                        got.add(g.sendOne(c, longHeader(1, dcid, 1200))); // 0-RTT
                    }
                    if (got.size() != 1 || got.contains(-1)) {
                        split.add("handshake " + h + " reached members " + got);
                    }
                    used.addAll(got);
                }
                assertThat(split).as("%s: handshakes whose Initials from 4 source ports did not share a socket", g)
                        .isEmpty();
                if (mode != Mode.CPU) { // one sending thread may stay on one CPU
                    assertThat(used).as("the policy still spreads handshakes over the members").hasSizeGreaterThan(1);
                }
                DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
                assertThat(c).isEqualTo(new DissectorCounters(0, 24 * 8, 0, 0, 0, 0, 0));
            } finally {
                closeAll(cs);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void malformedQuicPacketsAreSteeredByThePolicyNotDropped(String host) throws Exception {
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 3, KEY);
            p.setDissector(Dissector.quic(20));
            byte[] full = QuicCid.encode(20, 0, 0, 1, KEY, new Random(5));
            List<byte[]> bad = new ArrayList<>();
            bad.add(new byte[0]);                                        // empty datagram
            bad.add(new byte[] {(byte) 0xC0, 0, 0});                     // long header cut in the version
            bad.add(new byte[] {(byte) 0xC0, 0, 0, 0, 1});               // no DCID length octet
            byte[] tooLong = longHeader(0, new byte[20], 100);
            tooLong[5] = 21;                                             // DCID length 21 > 20
            bad.add(tooLong);
            byte[] pastEnd = new byte[6 + 10];
            pastEnd[0] = (byte) 0xC0;
            pastEnd[4] = 1;
            pastEnd[5] = 20;                                             // 20 announced, 10 present
            System.arraycopy(full, 0, pastEnd, 6, 10);
            bad.add(pastEnd);
            byte[] shortCut = new byte[1 + 12];                          // short header, 12 of 20 DCID octets
            shortCut[0] = 0x40;
            System.arraycopy(full, 0, shortCut, 1, 12);
            bad.add(shortCut);
            try (DatagramSocket c = g.udpClient()) {
                for (byte[] b : bad) {
                    assertThat(g.sendOne(c, b)).as("malformed datagram of %d bytes", b.length).isEqualTo(POLICY);
                }
                assertThat(g.sendOne(c, shortHeader(full))).as("a well-formed 20-octet cookie still works")
                        .isEqualTo(1);
            }
            DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
            assertThat(c).isEqualTo(new DissectorCounters(1, 0, 0, bad.size(), 0, 0, 0));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void randomDatagramsAreNeverDroppedAndCountedOnce(String host) throws Exception {
        Random rnd = new Random(10);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 3, KEY);
            p.setDissector(Dissector.quic(CID_LEN));
            int n = 1000;
            List<String> wrong = new ArrayList<>();
            try (DatagramSocket c = g.udpClient()) {
                for (int i = 0; i < n; i++) {
                    byte[] d = new byte[rnd.nextInt(41)];
                    rnd.nextBytes(d);
                    if (d.length > 0 && i % 2 == 0) {
                        d[0] = (byte) (d[0] & 0x7f); // half of them short headers
                    }
                    int to = g.sendOne(c, d);
                    if (to != POLICY) {
                        wrong.add(java.util.HexFormat.of().formatHex(d) + " -> member " + to);
                    }
                }
            }
            assertThat(wrong).as("%s: random datagrams not steered by the policy (-1: dropped)", g).isEmpty();
            DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
            assertThat(c.cookie()).as("%s", c).isZero();
            assertThat(c.noCookie() + c.gone() + c.malformed()).as("every datagram counted once: %s", c).isEqualTo(n);
            assertThat(c.malformed()).as("some were too short: %s", c).isPositive();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void offsetCookiesOfTwoAndFourBytesReachTheirSlot(String host) throws Exception {
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(7, 0, 3, KEY);
            try (DatagramSocket c = g.udpClient()) {
                p.setDissector(Dissector.offsetCookie(6, 4));
                for (int w = 0; w < 3; w++) {
                    byte[] d = new byte[16];
                    System.arraycopy(QuicCid.serverId(7, w, KEY), 0, d, 6, 4);
                    assertThat(g.sendOne(c, d)).as("4-byte key of worker %d at offset 6", w).isEqualTo(w);
                }
                byte[] forged = new byte[16];
                System.arraycopy(QuicCid.serverId(7, 1, KEY + 1), 0, forged, 6, 4);
                assertThat(g.sendOne(c, forged)).as("4-byte key with wrong check bits").isEqualTo(POLICY);
                assertThat(g.sendOne(c, new byte[9])).as("datagram ending inside the key").isEqualTo(POLICY);
                assertThat(p.dissectorCounters(Dissector.Kind.OFFSET_COOKIE))
                        .isEqualTo(new DissectorCounters(3, 1, 0, 1, 0, 0, 0));

                p.setDissector(Dissector.offsetCookie(0, 2));
                assertThat(g.sendOne(c, new byte[] {7, 2, 9, 9})).as("2-byte key of worker 2 at offset 0")
                        .isEqualTo(2);
                assertThat(g.sendOne(c, new byte[] {7, 3})).as("2-byte key of worker 3: past the count")
                        .isEqualTo(POLICY);
                assertThat(g.sendOne(c, new byte[] {8, 0})).as("2-byte key of an unused generation")
                        .isEqualTo(POLICY);
                assertThat(g.sendOne(c, new byte[] {7})).as("one byte: no room for the key").isEqualTo(POLICY);
                assertThat(p.dissectorCounters(Dissector.Kind.OFFSET_COOKIE))
                        .isEqualTo(new DissectorCounters(4, 2, 1, 2, 0, 0, 0));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void flowsStayWithTheirGenerationUntilIdle(String host) throws Exception {
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 8); SteerProgram p = SteerProgram.load(false)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.setGeneration(0, 0, 4, KEY);
            p.setWorkingGeneration(0);
            p.setDissector(Dissector.flow(Duration.ofMillis(1500)));
            p.publish(Mode.SEQ, identity(0, 4), false, 1); // per-datagram round-robin over generation 0
            List<DatagramSocket> old = clients(g, 8);
            List<DatagramSocket> fresh = clients(g, 8);
            try {
                int[] first = new int[old.size()];
                List<String> wrong = new ArrayList<>();
                for (int i = 0; i < old.size(); i++) {
                    first[i] = g.sendOne(old.get(i), ("hello " + i).getBytes());
                }
                assertThat(java.util.Arrays.stream(first).boxed().toList()).as("first datagrams go by the policy to generation 0")
                        .allMatch(m -> m >= 0 && m < 4);
                assertThat(java.util.Arrays.stream(first).distinct().count()).as("round-robin spread").isEqualTo(4);
                for (int r = 0; r < 3; r++) {
                    for (int i = 0; i < old.size(); i++) {
                        int to = g.sendOne(old.get(i), ("again " + r + " " + i).getBytes());
                        if (to != first[i]) {
                            wrong.add("flow " + i + " round " + r + ": " + first[i] + " -> " + to);
                        }
                    }
                }
                assertThat(wrong).as("%s: flows that left their socket", g).isEmpty();

                // a new working generation: new flows go there, old flows stay
                p.setGeneration(1, 4, 4, KEY + 1);
                p.publish(Mode.SEQ, identity(4, 4), false, 2);
                p.setWorkingGeneration(1);
                for (int i = 0; i < fresh.size(); i++) {
                    assertThat(g.sendOne(fresh.get(i), ("new " + i).getBytes())).as("new flow %d", i)
                            .isBetween(4, 7);
                }
                for (int i = 0; i < old.size(); i++) {
                    assertThat(g.sendOne(old.get(i), ("old " + i).getBytes())).as("old flow %d after the switch", i)
                            .isEqualTo(first[i]);
                }
                DissectorCounters c = p.dissectorCounters(Dissector.Kind.FLOW);
                assertThat(c).isEqualTo(new DissectorCounters(0, 0, 0, 0, 8 * 3 + 8, 8 + 8, 0));
                assertThat(p.dissectorFlows().countKeys()).as("flows remembered").isEqualTo(16);

                // idle past the limit: every flow is new again and goes to the working generation
                Thread.sleep(2_000);
                for (List<DatagramSocket> set : List.of(old, fresh)) {
                    for (int i = 0; i < set.size(); i++) {
                        assertThat(g.sendOne(set.get(i), ("late " + i).getBytes())).as("expired flow %d", i)
                                .isBetween(4, 7);
                    }
                }
                DissectorCounters d = p.dissectorCounters(Dissector.Kind.FLOW);
                assertThat(minus(d, c)).isEqualTo(new DissectorCounters(0, 0, 0, 0, 0, 16, 16));

                // generation 1 retires, generation 0 works again: its flows are gone and follow the policy
                p.setGeneration(0, 0, 4, KEY + 2);
                p.publish(Mode.SEQ, identity(0, 4), false, 3);
                p.setWorkingGeneration(0);
                p.retireGeneration(1);
                for (List<DatagramSocket> set : List.of(old, fresh)) {
                    for (int i = 0; i < set.size(); i++) {
                        assertThat(g.sendOne(set.get(i), ("moved " + i).getBytes()))
                                .as("flow %d of retired generation 1", i).isBetween(0, 3);
                    }
                }
                assertThat(minus(p.dissectorCounters(Dissector.Kind.FLOW), d))
                        .isEqualTo(new DissectorCounters(0, 0, 16, 0, 0, 16, 0));
            } finally {
                closeAll(old);
                closeAll(fresh);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1"})
    void anAdoptedProgramKeepsDissectorGenerationsAndCounters(String host) throws Exception {
        Random rnd = new Random(9);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(5, 0, 3, KEY);
            p.setWorkingGeneration(5);
            p.setDissector(Dissector.quic(CID_LEN, 2));
            byte[] cid = QuicCid.encode(CID_LEN, 2, 5, 2, KEY, rnd);
            try (DatagramSocket c = g.udpClient()) {
                assertThat(g.sendOne(c, shortHeader(cid))).isEqualTo(2);
                int[] d = p.descriptors();
                int[] maps = new int[d.length - 1];
                for (int i = 1; i < d.length; i++) {
                    maps[i - 1] = dev.reuseport.sys.internal.Sys.dup(d[i]);
                }
                assertThat(maps).hasSize(SteerProgram.MAPS.size());
                try (SteerProgram a = SteerProgram.adopt(dev.reuseport.sys.internal.Sys.dup(d[0]), SteerProgram.SELECT,
                        maps)) {
                    assertThat(a.dissector()).isEqualTo(Dissector.quic(CID_LEN, 2));
                    assertThat(a.workingGeneration()).isEqualTo(5);
                    assertThat(a.generation(5)).isEqualTo(p.generation(5));
                    assertThat(a.dissectorCounters(Dissector.Kind.QUIC).cookie()).isEqualTo(1);
                    // the adopter switches the dissector: the half it writes is the one not in force
                    a.setDissector(Dissector.offsetCookie(0, 2));
                    assertThat(p.dissector()).isEqualTo(Dissector.offsetCookie(0, 2));
                    assertThat(g.sendOne(c, new byte[] {5, 1})).isEqualTo(1);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1"})
    void passModeAndTcpBypassEveryDissector(String host) throws Exception {
        Random rnd = new Random(6);
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 4, KEY);
            p.setDissector(Dissector.quic(CID_LEN));
            p.pass(2);
            try (DatagramSocket c = g.udpClient()) {
                assertThat(g.sendOne(c, shortHeader(QuicCid.encode(CID_LEN, 0, 0, 1, KEY, rnd)))).isBetween(0, 3);
            }
            assertThat(p.dissectorCounters(Dissector.Kind.QUIC)).as("PASS: the kernel hash, nothing dissected")
                    .isEqualTo(new DissectorCounters(0, 0, 0, 0, 0, 0, 0));
        }
        try (TestGroup g = TestGroup.open(Proto.TCP, on(host), 4); SteerProgram p = steered(g, POLICY)) {
            p.setGeneration(0, 0, 4, KEY);
            p.setDissector(Dissector.offsetCookie(0, 2));
            assertThat(g.newFlows(20)).as("TCP connections go by the policy").containsOnly(POLICY);
            p.setDissector(Dissector.flow(Duration.ofSeconds(5)));
            assertThat(g.newFlows(20)).as("TCP connections go by the policy").containsOnly(POLICY);
            assertThat(p.dissectorCounters(Dissector.Kind.OFFSET_COOKIE)).isEqualTo(new DissectorCounters(0, 0, 0, 0,
                    0, 0, 0));
            assertThat(p.dissectorCounters(Dissector.Kind.FLOW)).isEqualTo(new DissectorCounters(0, 0, 0, 0, 0, 0, 0));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void flowsWithoutGenerationsKeepTheirSlotUntilItCloses(String host) throws Exception {
        try (TestGroup g = TestGroup.open(Proto.UDP, on(host), 4); SteerProgram p = SteerProgram.load(false)) {
            g.fillSlots(p.slots());
            p.attach(g.fd(0));
            p.setDissector(Dissector.flow(Duration.ofSeconds(30)));
            p.publish(Mode.SEQ, identity(0, 4), false, 1);
            List<DatagramSocket> cs = clients(g, 8);
            try {
                int[] first = new int[cs.size()];
                for (int i = 0; i < cs.size(); i++) {
                    first[i] = g.sendOne(cs.get(i), ("a" + i).getBytes());
                }
                for (int i = 0; i < cs.size(); i++) {
                    assertThat(g.sendOne(cs.get(i), ("b" + i).getBytes())).as("flow %d", i).isEqualTo(first[i]);
                }
                int leaver = first[0];
                g.closeMember(leaver);
                p.publish(Mode.SEQ, java.util.Arrays.stream(identity(0, 4)).filter(s -> s != leaver).toArray(), false, 2);
                int moved = 0;
                for (int i = 0; i < cs.size(); i++) {
                    int to = g.sendOne(cs.get(i), ("c" + i).getBytes());
                    if (first[i] == leaver) {
                        assertThat(to).as("flow %d of the closed member", i).isNotEqualTo(leaver).isNotNegative();
                        moved++;
                    } else {
                        assertThat(to).as("flow %d", i).isEqualTo(first[i]);
                    }
                }
                assertThat(p.dissectorCounters(Dissector.Kind.FLOW))
                        .isEqualTo(new DissectorCounters(0, 0, moved, 0, 16 - moved, 8 + moved, 0));
            } finally {
                closeAll(cs);
            }
        }
    }
}
