package dev.reuseport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.reuseport.bpf.BpfMap;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernel's socket-lookup selftests ({@code selftests/net/reuseport_bpf.c}, {@code reuseport_dualstack.c},
 * {@code reuseport_addr_any.c}, {@code selftests/bpf/prog_tests/select_reuseport.c}) as behaviours of the
 * library's groups, on real sockets and the real steering program, TCP and UDP, IPv4 and IPv6: wildcard
 * binds are steered; UDP groups past 10 members are steered; a same-uid socket on a more specific
 * address takes the traffic before a wildcard group's program runs; IPv4 and IPv6 groups on one port
 * stay apart; slot 255 is reachable, and every out-of-range value the program can meet fails open to the
 * kernel hash without a drop.
 */
@Tag("kernel")
@Timeout(60)
class KernelSelftestLookupTest {
    private static final InetAddress V4 = literal("127.0.0.1");
    private static final InetAddress V4_OTHER = literal("127.0.0.2");
    private static final InetAddress V6 = literal("::1");
    private static final long ARRIVAL_NANOS = 3_000_000_000L;

    @BeforeAll
    static void steeringIsAvailable() {
        List<dev.reuseport.bpf.Feature> f = Probes.steering();
        if (Sys.uid() != 0) {
            assumeTrue(Probes.steeringAvailable(f), "not root and eBPF steering unavailable: " + f);
        }
        assertThat(Probes.steeringAvailable(f)).as("probes as root: %s", f).isTrue();
    }

    private static InetAddress literal(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static void assumeIpv6() {
        boolean any;
        try {
            any = !String.join("", Files.readAllLines(Path.of("/proc/net/if_inet6"))).isBlank();
        } catch (IOException e) {
            any = false;
        }
        assumeTrue(any, "IPv6 is off on this host: /proc/net/if_inet6 is missing or empty");
    }

    /** Weights that send everything to {@code slot} of {@code n}. */
    static Policy only(int slot, int n) {
        int[] w = new int[n];
        w[slot] = 1;
        return Policy.weighted(w);
    }

    static ReuseportGroup.Builder builder(Protocol p) {
        return p == Protocol.TCP ? ReuseportGroup.tcp().backlog(512) : ReuseportGroup.udp();
    }

    // ------------------------------------------------------------------------------------------ traffic

    /**
     * One new flow (a TCP connection, or a datagram from a fresh UDP socket) to {@code target}; returns
     * the slot of the group member that got it, or -1 when none did within the arrival time. Single
     * threaded: the member is found by trying each worker without waiting.
     */
    static int deliver(ReuseportGroup g, InetSocketAddress target) throws IOException, InterruptedException {
        return deliver(g, target, ARRIVAL_NANOS);
    }

    /** As {@link #deliver(ReuseportGroup, InetSocketAddress)}, waiting {@code waitNanos} for the arrival. */
    static int deliver(ReuseportGroup g, InetSocketAddress target, long waitNanos) throws IOException, InterruptedException {
        if (g.protocol() == Protocol.TCP) {
            try (Socket s = new Socket()) {
                s.connect(target, 2000);
                return arrival(g, waitNanos);
            }
        }
        try (DatagramChannel ch = DatagramChannel.open(target.getAddress() instanceof Inet6Address
                ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET)) {
            ch.bind(new InetSocketAddress(target.getAddress(), 0));
            ch.send(ByteBuffer.wrap(new byte[] {7}), target);
            return arrival(g, waitNanos);
        }
    }

    private static int arrival(ReuseportGroup g, long waitNanos) throws IOException, InterruptedException {
        long until = System.nanoTime() + waitNanos;
        ByteBuffer b = ByteBuffer.allocate(64);
        do {
            for (Worker w : g.workers()) {
                if (g.protocol() == Protocol.TCP) {
                    Connection c = w.tryAccept(false);
                    if (c != null) {
                        c.close();
                        return w.slot();
                    }
                } else {
                    b.clear();
                    if (w.receive(b, Duration.ZERO) != null) {
                        return w.slot();
                    }
                }
            }
            Thread.sleep(1);
        } while (System.nanoTime() < until);
        return -1;
    }

    /**
     * Slot counts of {@code n} new flows; index {@code MAX_WORKERS} counts flows no member got. The first
     * flow lost (not delivered, or refused) ends the run and counts the rest as lost too, so that a
     * dropping program fails the test at once instead of waiting out every flow.
     */
    static long[] deliver(ReuseportGroup g, InetSocketAddress target, int n) throws Exception {
        long[] c = new long[ReuseportGroup.MAX_WORKERS + 1];
        for (int i = 0; i < n; i++) {
            int s;
            try {
                s = deliver(g, target);
            } catch (java.net.ConnectException e) {
                s = -1; // refused: a SYN dropped by the program is answered with a reset
            }
            if (s < 0) {
                c[ReuseportGroup.MAX_WORKERS] += n - i;
                return c;
            }
            c[s]++;
        }
        return c;
    }

    static long lost(long[] counts) {
        return counts[ReuseportGroup.MAX_WORKERS];
    }

    // --------------------------------------------------------------------------------- wildcard binds

    static Stream<Arguments> wildcards() {
        return Stream.of(Protocol.TCP, Protocol.UDP).flatMap(p -> Stream.of(
                Arguments.of(p, "default"), Arguments.of(p, "0.0.0.0"), Arguments.of(p, "::")));
    }

    /**
     * A group on the wildcard address (the builder's default is 0.0.0.0) is steered by its program for
     * traffic to any local address; a group on {@code ::} also for IPv4 traffic (v4-mapped).
     */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("wildcards")
    void wildcardGroupIsSteered(Protocol proto, String address) throws Exception {
        ReuseportGroup.Builder b = builder(proto).workers(4).policy(only(2, 4));
        if (!address.equals("default")) {
            if (address.equals("::")) {
                assumeIpv6();
            }
            b.address(address);
        }
        try (ReuseportGroup g = b.open()) {
            assertThat(g.capabilities().steering()).isEqualTo("bpf weighted:0,0,1,0");
            int port = g.localAddress().getPort();
            List<InetAddress> targets = address.equals("::") ? List.of(V4, V4_OTHER, V6) : List.of(V4, V4_OTHER);
            for (InetAddress t : targets) {
                long[] c = deliver(g, new InetSocketAddress(t, port), 20);
                assertThat(c[2]).as("%s: flows to %s steered to slot 2: %s", g, t.getHostAddress(),
                        Arrays.toString(Arrays.copyOf(c, 5))).isEqualTo(20);
            }
            assertThat(g.steeringCounters().get(2).selected()).isEqualTo(20L * targets.size());
        }
    }

    // -------------------------------------------------------------------- more than 10 UDP sockets

    static Stream<Arguments> largeUdp() {
        return Stream.of(Arguments.of("127.0.0.1", 16), Arguments.of("0.0.0.0", 16), Arguments.of("::1", 16),
                Arguments.of("::", 32));
    }

    /**
     * UDP groups of more than 10 members (the kernel once looked such ports up by another path, hash2
     * instead of the port's slot): every datagram is delivered, round-robin is exact over every member,
     * and a one-slot table reaches that slot.
     */
    @ParameterizedTest(name = "{1} UDP sockets on {0}")
    @MethodSource("largeUdp")
    void moreThanTenUdpSocketsAreSteered(String address, int n) throws Exception {
        if (address.contains(":")) {
            assumeIpv6();
        }
        InetAddress target = address.contains(":") ? V6 : V4;
        try (ReuseportGroup g = ReuseportGroup.udp().address(address).workers(n).policy(Policy.roundRobin()).open()) {
            InetSocketAddress to = new InetSocketAddress(target, g.localAddress().getPort());
            long[] c = deliver(g, to, 3 * n);
            assertThat(lost(c)).as("datagrams no member received").isZero();
            for (int s = 0; s < n; s++) {
                assertThat(c[s]).as("slot %d of %d under round-robin: %s", s, n, Arrays.toString(Arrays.copyOf(c, n)))
                        .isEqualTo(3);
            }
            g.applyPolicy(only(n - 3, n));
            c = deliver(g, to, 20);
            assertThat(c[n - 3]).as("one-slot table, slot %d of %d", n - 3, n).isEqualTo(20);
            g.applyPolicy(Policy.kernelHash());
            c = deliver(g, to, 40);
            assertThat(lost(c)).as("kernel hash over %d members: datagrams lost", n).isZero();
            assertThat(Arrays.stream(c, 0, n).filter(x -> x > 0).count()).as("members used by 40 flows").isGreaterThan(4);
        }
    }

    // ---------------------------------------------------------- a specific address takes precedence

    /** A same-uid socket with SO_REUSEPORT bound to {@code address:port}, listening for TCP. */
    static int plainMember(Protocol proto, InetAddress address, int port) throws IOException {
        int family = SockAddr.family(address);
        int fd = Sys.socket(family, (proto == Protocol.TCP ? Sys.SOCK_STREAM : Sys.SOCK_DGRAM) | Sys.SOCK_NONBLOCK, 0);
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            Sys.bind(fd, new InetSocketAddress(address, port), family);
            if (proto == Protocol.TCP) {
                Sys.listen(fd, 64);
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    /** Whether the plain socket {@code fd} got a connection or datagram, waiting up to the arrival time. */
    static boolean plainGot(Protocol proto, int fd) throws IOException, InterruptedException {
        long until = System.nanoTime() + ARRIVAL_NANOS;
        do {
            if (proto == Protocol.TCP) {
                int c = Sys.accept(fd, false);
                if (c >= 0) {
                    Sys.close(c);
                    return true;
                }
            } else if (Sys.receive(fd, ByteBuffer.allocateDirect(64), Sys.MSG_DONTWAIT) != null) {
                return true;
            }
            Thread.sleep(1);
        } while (System.nanoTime() < until);
        return false;
    }

    static Stream<Arguments> anyAndSpecific() {
        return Stream.of(Protocol.TCP, Protocol.UDP).flatMap(p -> Stream.of(Arguments.of(p, "0.0.0.0", "127.0.0.1"),
                Arguments.of(p, "::", "::1")));
    }

    /**
     * {@code reuseport_addr_any.c}: a same-uid socket on {@code 127.0.0.1:P} beside a group on
     * {@code 0.0.0.0:P} is a better match for traffic to 127.0.0.1, so it gets that traffic and the
     * group's program never runs for it; traffic to another local address still reaches the group,
     * steered. {@link PortShadows} finds the escaping socket.
     */
    @ParameterizedTest(name = "{0} group on {1}, socket on {2}")
    @MethodSource("anyAndSpecific")
    void specificAddressTakesPrecedenceOverTheWildcardGroup(Protocol proto, String any, String specific) throws Exception {
        if (any.contains(":")) {
            assumeIpv6();
        }
        InetAddress exact = InetAddress.getByName(specific);
        try (ReuseportGroup g = builder(proto).address(any).workers(4).policy(only(1, 4)).open()) {
            int port = g.localAddress().getPort();
            assertThat(PortShadows.of(g)).as("before any other socket").isEmpty();
            int fd = plainMember(proto, exact, port);
            try {
                long before = g.steeringCounters().get(1).selected();
                for (int i = 0; i < 5; i++) {
                    // the specific socket answers at once; by then a group member would have had it too
                    assertThat(deliver(g, new InetSocketAddress(exact, port), 100_000_000L))
                            .as("flow %d to %s: a group member got it", i, specific).isEqualTo(-1);
                    assertThat(plainGot(proto, fd)).as("flow %d to %s: the specific socket got it", i, specific).isTrue();
                }
                assertThat(g.steeringCounters().get(1).selected()).as("the group's program ran for none").isEqualTo(before);
                if (!any.contains(":")) {
                    long[] c = deliver(g, new InetSocketAddress(V4_OTHER, port), 10);
                    assertThat(c[1]).as("flows to 127.0.0.2 still reach the group, steered").isEqualTo(10);
                }
                List<PortShadows.Shadow> shadows = PortShadows.of(g);
                assertThat(shadows).as("the detector names the escaping socket").hasSize(1);
                assertThat(shadows.get(0).address()).isEqualTo(new InetSocketAddress(exact, port));
                assertThat(String.join("\n", PortShadows.report(g))).contains(exact.getHostAddress())
                        .contains(":" + port + " ");
                assertThat(statusBody(g)).as("the control socket's status").anyMatch(l -> l.startsWith("shadowed ")
                        && l.contains(exact.getHostAddress()));
            } finally {
                Sys.close(fd);
            }
            assertThat(PortShadows.of(g)).as("after the socket closed").isEmpty();
        }
    }

    /** The body of the operator socket's {@code status} reply for {@code g}. */
    static List<String> statusBody(ReuseportGroup g) throws IOException {
        Path dir = Files.createTempDirectory("rp-shadow", java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        try (ControlSocket socket = ControlSocket.serve(g, dir.resolve("ctl"), false);
             ControlClient client = ControlClient.connect(socket.path())) {
            ControlClient.Reply r = client.request("status");
            assertThat(r.ok()).as("status: %s", r).isTrue();
            return r.body();
        } finally {
            Files.deleteIfExists(dir.resolve("ctl"));
            Files.deleteIfExists(dir);
        }
    }

    // ----------------------------------------------------------------------------------- dual stack

    static Stream<Arguments> dualStack() {
        return Stream.of(Protocol.TCP, Protocol.UDP).flatMap(p -> Stream.of(Arguments.of(p, true, 4),
                Arguments.of(p, false, 4), Arguments.of(p, true, 16), Arguments.of(p, false, 16)))
                .filter(a -> a.get()[0] == Protocol.UDP || (int) a.get()[2] == 4);
    }

    /**
     * {@code reuseport_dualstack.c}: a group on {@code 0.0.0.0:P} and one on {@code [::]:P} (not
     * IPV6_V6ONLY) are two kernel groups; IPv4 traffic goes to the IPv4 group, IPv6 traffic to the IPv6
     * group, each steered by its own program, whichever opened first (UDP also past 10 members).
     */
    @ParameterizedTest(name = "{0} v4 first {1}, {2} each")
    @MethodSource("dualStack")
    void ipv4AndIpv6GroupsOnOnePortStayApart(Protocol proto, boolean v4First, int n) throws Exception {
        assumeIpv6();
        ReuseportGroup first = builder(proto).address(v4First ? "0.0.0.0" : "::").workers(n)
                .policy(only(v4First ? 1 : 2, n)).open();
        try (first; ReuseportGroup second = builder(proto).address(v4First ? "::" : "0.0.0.0")
                .port(first.localAddress().getPort()).workers(n).policy(only(v4First ? 2 : 1, n)).open()) {
            ReuseportGroup v4 = v4First ? first : second;
            ReuseportGroup v6 = v4First ? second : first;
            int port = first.localAddress().getPort();
            long[] c4 = deliver(v4, new InetSocketAddress(V4, port), 10);
            assertThat(c4[1]).as("IPv4 flows on the IPv4 group, slot 1").isEqualTo(10);
            long[] c6 = deliver(v6, new InetSocketAddress(V6, port), 10);
            assertThat(c6[2]).as("IPv6 flows on the IPv6 group, slot 2").isEqualTo(10);
            assertThat(v6.steeringCounters().get(2).selected()).as("IPv6 group's program: only IPv6 flows").isEqualTo(10);
            assertThat(v4.steeringCounters().get(1).selected()).as("IPv4 group's program: only IPv4 flows").isEqualTo(10);
        }
    }

    // ---------------------------------------------------------------- slot 255 and the program's guards

    /**
     * Slot 255, the last of {@link SteerProgram#MAX_SLOTS}, is reachable; then every value the program
     * must refuse (a table entry of 256 or 2^32-1, a table length past the maximum, an active half
     * other than 0 or 1, an unknown mode) is written straight into the group's maps, and each time every
     * new flow is still delivered (the kernel hash), with nothing selected: the guards fail open.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Protocol.class)
    void slot255IsReachedAndOutOfRangeValuesFailOpen(Protocol proto) throws Exception {
        int n = ReuseportGroup.MAX_WORKERS;
        try (ReuseportGroup g = builder(proto).address(V4).workers(n).policy(only(255, n)).open()) {
            InetSocketAddress to = g.localAddress();
            long[] c = deliver(g, to, 10);
            assertThat(c[255]).as("flows on slot 255").isEqualTo(10);
            assertThat(g.steeringCounters().get(255).selected()).isEqualTo(10);

            Maps m = Maps.of(g);
            int half = m.activeHalf();
            int len = m.tableLength(half);
            String[] cases = {"table entry 256", "table entry 0xffffffff", "table length 65538", "active half 2",
                "mode 99"};
            for (String k : cases) {
                switch (k) {
                    case "table entry 256" -> m.fillTable(half, len, 256);
                    case "table entry 0xffffffff" -> m.fillTable(half, len, -1);
                    case "table length 65538" -> {
                        m.fillTable(half, len, 255);
                        m.setTableLength(half, SteerProgram.TABLE_MAX + 1);
                    }
                    case "active half 2" -> {
                        m.setTableLength(half, len);
                        m.setActive(2);
                    }
                    case "mode 99" -> {
                        m.setActive(half);
                        m.setMode(half, 99);
                    }
                    default -> throw new IllegalStateException(k);
                }
                long selected = total(g);
                long[] d = deliver(g, to, 20);
                assertThat(lost(d)).as("%s: flows no member got", k).isZero();
                assertThat(total(g)).as("%s: selections by the program", k).isEqualTo(selected);
                assertThat(Arrays.stream(d, 0, n).filter(x -> x > 0).count()).as("%s: members the kernel hash used", k)
                        .isGreaterThan(1);
            }
        }
    }

    static long total(ReuseportGroup g) throws IOException {
        return g.steeringCounters().stream().mapToLong(SteerProgram.SlotCounters::selected).sum();
    }

    /** Raw access to a group's steering maps, for writing what the library itself never writes. */
    record Maps(BpfMap active, BpfMap config, BpfMap table) {
        static Maps of(ReuseportGroup g) throws ReflectiveOperationException {
            SteerProgram p = g.engine().steering().program();
            return new Maps(field(p, "active"), field(p, "config"), field(p, "table"));
        }

        private static BpfMap field(SteerProgram p, String name) throws ReflectiveOperationException {
            var f = SteerProgram.class.getDeclaredField(name);
            f.setAccessible(true);
            return (BpfMap) f.get(p);
        }

        static byte[] u32(int v) {
            return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0, v).array();
        }

        int activeHalf() throws IOException {
            return ByteBuffer.wrap(active.lookup(u32(0))).order(ByteOrder.nativeOrder()).getInt(0);
        }

        void setActive(int half) throws IOException {
            active.update(u32(0), u32(half), 0);
        }

        private ByteBuffer config(int half) throws IOException {
            return ByteBuffer.wrap(config.lookup(u32(half))).order(ByteOrder.nativeOrder());
        }

        int tableLength(int half) throws IOException {
            return config(half).getInt(4);
        }

        void setTableLength(int half, int len) throws IOException {
            ByteBuffer c = config(half);
            c.putInt(4, len);
            config.update(u32(half), c.array(), 0);
        }

        void setMode(int half, int mode) throws IOException {
            ByteBuffer c = config(half);
            c.putInt(0, mode);
            config.update(u32(half), c.array(), 0);
        }

        void fillTable(int half, int len, int slot) throws IOException {
            for (int i = 0; i < len; i++) {
                table.update(u32(half * SteerProgram.TABLE_MAX + i), u32(slot), 0);
            }
        }
    }
}
