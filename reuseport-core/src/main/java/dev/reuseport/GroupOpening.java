package dev.reuseport;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.handoff.HandoffFailure;
import dev.reuseport.internal.gen.GenerationPlanner;
import dev.reuseport.internal.gen.LiveGenerations;
import dev.reuseport.internal.member.GroupSpec;
import dev.reuseport.internal.member.MemberSockets;
import dev.reuseport.internal.steer.GenerationSteps;
import dev.reuseport.internal.wire.ControlLines;
import dev.reuseport.internal.wire.Shown;
import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.Native;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How a group comes to be: opened from a {@link ReuseportGroup.Builder} (members bound, capabilities
 * probed, the policy applied) or adopted from a hand-off. Native failures become the typed exceptions
 * the builder documents.
 */
final class GroupOpening {
    private static final System.Logger LOG = System.getLogger("dev.reuseport");

    private GroupOpening() {
    }

    /** The host's capability report before any steering. */
    private static Capabilities probe(String steering, String reason) throws NativeException {
        List<Feature> features = new ArrayList<>();
        features.add(Probes.soReuseport());
        features.addAll(Probes.steering());
        features.addAll(Probes.ingest());
        return new Capabilities(Sys.kernelRelease(), Native.backendName(), Native.backendReason(), features,
                steering, reason);
    }

    private static GroupSpec spec(ReuseportGroup.Builder b, int port) {
        return new GroupSpec(b.protocol == Protocol.TCP, SockAddr.family(b.address),
                new InetSocketAddress(b.address, port), b.backlog, b.receiveBuffer, b.ingest.udpGro(),
                b.ingest.busyPollMicros(), b.ingest.preferBusyPoll(), b.ingest.tableEntries());
    }

    /** The builder's members, bound and listening, on one port; closed again when one fails. */
    static int[] openMembers(ReuseportGroup.Builder b) throws ReuseportException {
        int[] port = {b.port};
        try {
            return MemberSockets.open(spec(b, b.port), b.workers, port);
        } catch (NativeException e) {
            throw translate(b, e, new InetSocketAddress(b.address, port[0]));
        }
    }

    /** Opens the group of {@code b}, its workers on {@code members} (from {@link #openMembers}) when given. */
    static ReuseportGroup open(ReuseportGroup.Builder b, int[] members) throws ReuseportException {
        int[] fds = members != null ? members : openMembers(b);
        InetSocketAddress bound = new InetSocketAddress(b.address, b.port);
        try {
            int port = MemberSockets.port(fds[0]);
            bound = new InetSocketAddress(b.address, port);
            Capabilities caps = probe("kernel hash", "no steering policy requested");
            if (b.protocol == Protocol.UDP) {
                caps = caps.withFeature(Probes.quicDissector());
            }
            ReuseportGroup group = new ReuseportGroup(b.protocol, spec(b, port),
                    java.util.stream.IntStream.range(0, fds.length).toArray(), fds, caps);
            if (b.policy instanceof Policy.KernelHash && b.protocol == Protocol.TCP && b.migration
                    && caps.isOn(Probes.MIGRATE)) {
                group.engine().steering().attachForMigration();
            } else if (!(b.policy instanceof Policy.KernelHash)) {
                try {
                    group.applyPolicy(b.policy);
                } catch (IOException | RuntimeException e) {
                    try {
                        group.close();
                    } catch (IOException c) {
                        e.addSuppressed(c);
                    }
                    throw new ReuseportException("cannot apply policy " + b.policy.spec() + " to "
                            + group.engine().describe() + ": " + e.getMessage(), e);
                }
            }
            if (b.dissector.kind() != dev.reuseport.bpf.Dissector.Kind.NONE) {
                try {
                    group.dissector(b.dissector);
                } catch (IOException | RuntimeException e) {
                    try {
                        group.close();
                    } catch (IOException c) {
                        e.addSuppressed(c);
                    }
                    throw new ReuseportException("cannot put dissector " + b.dissector + " in force on "
                            + group.engine().describe() + ": " + e.getMessage(), e);
                }
            }
            return group;
        } catch (NativeException e) {
            MemberSockets.closeAll(fds, e);
            throw translate(b, e, bound);
        } catch (RuntimeException | Error e) {
            MemberSockets.closeAll(fds, e);
            throw e;
        }
    }

    /** The group a hand-off delivered: sockets, program and maps are already in this process. */
    static ReuseportGroup adopt(Handoff.Layout l, java.util.function.Supplier<String[]> committedTags)
            throws IOException {
        return adopt(l, committedTags, null);
    }

    /**
     * As {@link #adopt(Handoff.Layout, java.util.function.Supplier)}; with {@code generation} (a holder), a UDP
     * group whose dissector keeps state becomes a new socket generation of this process's own sockets
     * ({@link #adoptGeneration}), whose number goes into the holder, while the old process drains.
     */
    static ReuseportGroup adopt(Handoff.Layout l, java.util.function.Supplier<String[]> committedTags,
                                int[] generation) throws IOException {
        InetAddress address = InetAddress.getByName(l.address());
        int n = l.slots().length;
        int[] sockets = Arrays.copyOf(l.fds(), n);
        for (int i = 0; i < n; i++) {
            InetSocketAddress at = Sys.localAddress(sockets[i]);
            if (at.getPort() != l.port() || Sys.getInt(sockets[i], Sys.SOL_SOCKET, Sys.SO_REUSEPORT) != 1) {
                throw new HandoffFailure("descriptor for slot " + l.slots()[i] + " is bound to " + at
                        + " without the group's port " + l.port() + " and SO_REUSEPORT");
            }
        }
        SteerProgram program = null;
        if (l.program() != null) {
            if (tagIndex(l.program()) < 0) {
                throw new HandoffFailure("the layout names program '" + Shown.printable(l.program()) + "'; accepted: "
                        + String.join(", ", TAGGED));
            }
            // on a failure below, the received descriptors are closed by the hand-off (never by this object)
            try {
                program = SteerProgram.adopt(l.fds()[n], l.program(), Arrays.copyOfRange(l.fds(), n + 1,
                        l.fds().length));
            } catch (IllegalArgumentException e) {
                throw new HandoffFailure("the program or maps received are not the steering program's: "
                        + e.getMessage(), e);
            }
            checkProgram(program, l, committedTags.get());
        }
        Protocol protocol = Protocol.valueOf(l.protocol());
        GroupSpec spec = new GroupSpec(protocol == Protocol.TCP, SockAddr.family(address),
                new InetSocketAddress(address, l.port()), l.backlog(), l.receiveBuffer());
        Capabilities caps = probe("kernel hash", "taken over by hand-off");
        if (protocol == Protocol.UDP) {
            caps = caps.withFeature(Probes.quicDissector());
        }
        Policy policy = Policy.parse(l.policy());
        if (generation != null && program != null && program.dissects() && !(policy instanceof Policy.Weighted)
                && GenerationDrain.stateful(protocol, program.dissector(), policy)) {
            return adoptGeneration(l, program, spec, caps, policy, generation);
        }
        ReuseportGroup g = new ReuseportGroup(protocol, spec, l.slots(), sockets, caps);
        g.engine().steering().adopted(program, policy, l.tableVersion());
        return g;
    }

    /**
     * The new side of a hand-off of a UDP group whose dissector keeps state (QUIC connection ids, a cookie at
     * an offset, flows): rather than serve the old process's sockets, whose connections live in the old
     * process, opens as many of this process's own in the same reuseport group as a new socket generation,
     * in a fresh range of slots ({@link GenerationPlanner}), with a new key for its cookies' check bits; puts
     * them in the adopted socket array, publishes the policy's table over them (new flows come here from now
     * on) and makes the generation the working one. The old process's sockets stay in the group and keep
     * their slots, so every packet bearing its cookies (or of its flows) still reaches it until it drains;
     * this process's copies of them are closed. Generations whose sockets are all gone are retired first,
     * and, while others live, checked again until they go ({@link GenerationDrain#watch}).
     */
    private static ReuseportGroup adoptGeneration(Handoff.Layout l, SteerProgram program, GroupSpec spec,
                                                  Capabilities caps, Policy policy, int[] started) throws IOException {
        int n = l.slots().length;
        LiveGenerations.Read read = LiveGenerations.readRetiringDead(program);
        GenerationPlanner.Live next;
        try {
            next = GenerationPlanner.next(read.live(), GenerationSteps.GENERATION_SLOTS);
        } catch (IllegalStateException e) {
            throw new HandoffFailure("no socket generation can be set up beside the live ones: " + e.getMessage(), e);
        }
        if (n < 1 || n > next.count()) {
            throw new HandoffFailure("the old process serves " + n + " sockets; accepted for a new socket generation: "
                    + "1.." + next.count());
        }
        int[] own = MemberSockets.open(spec, n, new int[] {l.port()});
        int[] slots = java.util.stream.IntStream.range(next.base(), next.base() + n).toArray();
        int key = new java.security.SecureRandom().nextInt();
        ReuseportGroup g = null;
        try {
            ReuseportGroup made = new ReuseportGroup(Protocol.UDP, spec, slots, own, caps);
            g = made;
            GroupSteering st = g.engine().steering();
            st.confine(next.base(), next.base() + next.count());
            st.adopted(program, policy, l.tableVersion());
            // LIVE first, then the table over its slots (new flows come here from then on), then working
            st.inner().startWorking(next.number(), next.base(), next.count(), key, slots, own,
                    () -> made.applyPolicy(policy));
        } catch (IOException | RuntimeException e) {
            try {
                if (program.generation(next.number()).key() == key) {
                    program.retireGeneration(next.number());
                }
            } catch (NativeException | RuntimeException r) {
                e.addSuppressed(r);
            }
            if (g != null) {
                g.engine().steering().adopted(null, policy, l.tableVersion()); // the hand-off closes what it received
                try {
                    g.close();
                } catch (IOException c) {
                    e.addSuppressed(c);
                }
            } else {
                MemberSockets.closeAll(own, e);
            }
            throw e instanceof HandoffFailure h ? h : new HandoffFailure("cannot set socket generation "
                    + next.number() + " up: " + e.getMessage(), e);
        }
        for (int i = 0; i < n; i++) {
            try {
                Sys.close(l.fds()[i]); // the old process's sockets: it keeps its own descriptors while it drains
            } catch (NativeException e) {
                LOG.log(System.Logger.Level.DEBUG, "closing a received socket: " + e.getMessage());
            }
        }
        int[] others = read.others(next.number());
        g.audit().record("takeover-generation", "generation", next.number(), "slots", next.base() + ".."
                + (next.base() + next.count() - 1), "sockets", n, "draining", Arrays.toString(others),
                "retired_dead", read.retired().toString(), "outcome", "new flows come to this process; cookies and "
                + "flows of the draining generations keep reaching theirs");
        ReuseportGroup group = g;
        GenerationDrain.watch(g.engine().describe(), g.engine().steering(), others, group::isClosed,
                java.time.Duration.ofMillis(250));
        started[0] = next.number();
        return g;
    }

    /** The steering programs whose tags {@link #committedTags()} holds, in its order. */
    private static final String[] TAGGED = {SteerProgram.SELECT, SteerProgram.MIGRATE, SteerProgram.SELECT_TCP,
        SteerProgram.MIGRATE_TCP};

    private static int tagIndex(String program) {
        return java.util.Arrays.asList(TAGGED).indexOf(program);
    }

    /**
     * The tags of this build's four steering programs (in {@link #TAGGED}'s order: with the dissectors for UDP
     * groups, without for TCP ones), loaded before the hand-off joins the port (the verifier's time is then
     * spent while the old process still serves everything, not while connections queue on standby sockets);
     * null where they cannot be loaded. A program's tag does not depend on its maps' sizes.
     */
    static String[] committedTags() {
        String[] known = TAGS.get();
        if (known != null) {
            return known.clone();
        }
        if (!Probes.steeringAvailable(Probes.steering())) {
            return null;
        }
        String[] out = new String[TAGGED.length];
        for (int i = 0; i < TAGGED.length; i++) {
            try {
                out[i] = SteerProgram.tag(i % 2 == 1, i < 2);
            } catch (IOException | RuntimeException e) {
                return null; // not kept: a later take-over tries again
            }
        }
        TAGS.set(out);
        return out.clone();
    }

    /**
     * The tags once read: they are those of the object in this JAR, fixed for the life of the JVM, and a
     * read costs four verifier runs (seconds on a loaded host), so a process that takes over more than once,
     * or reads them ahead of its turn, pays once.
     */
    private static final java.util.concurrent.atomic.AtomicReference<String[]> TAGS =
            new java.util.concurrent.atomic.AtomicReference<>();

    /**
     * The received program is this build's (its tag is that of the committed object's program of the same
     * name) and its socket array holds the received sockets, slot by slot (cookies).
     */
    private static void checkProgram(SteerProgram program, Handoff.Layout l, String[] committedTags) throws IOException {
        String tag = program.program().info().tag();
        if (committedTags == null) {
            throw new HandoffFailure("a steering program was passed but this process cannot load "
                    + SteerProgram.OBJECT + " to compare its tag; accepted: no program, or a host where it loads");
        }
        String ours = committedTags[tagIndex(l.program())];
        if (!tag.equals(ours)) {
            throw new HandoffFailure("the program received (" + l.program() + " tag " + tag + ") is not this build's "
                    + SteerProgram.OBJECT + " (tag " + ours + "); accepted: the same program, or no program");
        }
        for (int i = 0; i < l.slots().length; i++) {
            long inArray = program.slots().cookie(l.slots()[i]);
            long socket = Sys.getLong(l.fds()[i], Sys.SOL_SOCKET, Sys.SO_COOKIE);
            if (inArray != socket) {
                throw new HandoffFailure("the program's socket array holds cookie " + Long.toHexString(inArray)
                        + " in slot " + l.slots()[i] + " but the socket received for it has cookie "
                        + Long.toHexString(socket) + "; accepted: the array of the sockets sent");
            }
        }
    }

    private static ReuseportException translate(ReuseportGroup.Builder b, NativeException e, InetSocketAddress bound) {
        String where = format(bound);
        InetAddress address = b.address;
        boolean v6 = address instanceof Inet6Address;
        if (e.is(Errno.EADDRINUSE)) {
            return new AddressInUseException(b.protocol + " " + where + " is held by a socket without SO_REUSEPORT "
                    + "or of another user (" + e.getMessage() + "); accepted: a free port, or one whose "
                    + "holders all set SO_REUSEPORT under uid " + Sys.uid(), e);
        }
        if (e.is(Errno.EAFNOSUPPORT) || (v6 && e.is(Errno.EADDRNOTAVAIL) && !ipv6Configured())) {
            return new AddressNotAvailableException("address " + address.getHostAddress() + " is IPv6 but this "
                    + "host has no IPv6 (" + e.getMessage() + "); accepted: an IPv4 address, or enable IPv6", e);
        }
        if (e.is(Errno.EADDRNOTAVAIL)) {
            return new AddressNotAvailableException("address " + address.getHostAddress() + " is not assigned "
                    + "to this host (" + e.getMessage() + "); accepted: an address of a local interface, "
                    + "0.0.0.0 or ::", e);
        }
        if (e.is(Errno.EACCES) && bound.getPort() < 1024) {
            return new ReuseportException("port " + bound.getPort() + " is privileged (" + e.getMessage()
                    + "); accepted: 1024..65535, or grant CAP_NET_BIND_SERVICE", e);
        }
        if (e.is(Errno.EMFILE) || e.is(Errno.ENFILE)) {
            return new ReuseportException("out of file descriptors opening " + b.workers + " workers on " + where
                    + " (" + e.getMessage() + "); raise RLIMIT_NOFILE or open fewer workers", e);
        }
        return new ReuseportException("cannot open " + b.protocol + " group on " + where + ": " + e.getMessage(), e);
    }

    /** The address of a literal ({@link ReuseportGroup.Builder#address(String)}), past its blank check. */
    static InetAddress parseAddress(String literal) {
        String s = literal.trim();
        if (s.startsWith("[") && s.endsWith("]")) {
            s = s.substring(1, s.length() - 1);
        }
        if (s.equalsIgnoreCase("localhost")) {
            return InetAddress.getLoopbackAddress();
        }
        if (!isLiteral(s)) {
            throw new IllegalArgumentException("address " + Shown.quote(literal) + " is not an IP literal; accepted: an "
                    + "IPv4 or IPv6 literal, 'localhost', '0.0.0.0' or '::'");
        }
        try {
            return InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address " + Shown.quote(literal) + " is not an IP literal; accepted: an "
                    + "IPv4 or IPv6 literal, 'localhost', '0.0.0.0' or '::'", e);
        }
    }

    private static boolean isLiteral(String s) {
        if (s.indexOf(':') >= 0) {
            return s.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.' || c == '%'
                    || Character.isLetterOrDigit(c));
        }
        return s.matches("\\d{1,3}(\\.\\d{1,3}){3}");
    }


    static String format(InetSocketAddress a) {
        InetAddress ip = a.getAddress();
        String host = ip == null ? a.getHostString() : ip.getHostAddress();
        return (ip instanceof Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /** {@link ReuseportGroup#takeOver} reporting each step of the hand-off to {@code handoff}. */
    static ReuseportGroup takeOver(java.nio.file.Path control, ReuseportGroup.Builder fallback, Handoff handoff) throws IOException {
        ControlLines.checkPath(control);
        // with standby sockets, this build's program tags are read before they join the port
        String[][] tags = {fallback != null && fallback.port != 0 ? committedTags() : null};
        int[] started = {-1}; // the socket generation this process serves on its own sockets, if it does
        int[] standby = fallback != null && fallback.port != 0 ? openMembers(fallback) : null;
        ReuseportGroup g;
        try {
            g = handoff.receive(control, fallback == null ? null : fallback.protocol.name(),
                    fallback == null ? 0 : standby != null ? MemberSockets.port(standby[0]) : fallback.port,
                    l -> adopt(l, () -> tags[0] != null ? tags[0] : (tags[0] = committedTags()), started),
                    a -> started[0]);
        } catch (IOException | RuntimeException e) {
            if (fallback == null) {
                throw e instanceof ReuseportException r ? r : new HandoffException(e instanceof HandoffFailure
                        ? e.getMessage() : "hand-off from " + control + " failed: " + e.getMessage(), e);
            }
            LOG.log(System.Logger.Level.WARNING, "hand-off from " + control + " failed (" + e.getMessage()
                    + "); opening the group " + (standby != null ? "on the standby sockets" : "anew"));
            g = open(fallback, standby);
            g.audit().record("takeover-fallback", "control", control.toString(), "error", e.getMessage(),
                    "standby", standby != null ? standby.length : 0);
            return g;
        }
        g.audit().record("takeover", "control", control.toString(), "table_version", g.tableVersion(),
                "standby_closed", standby != null ? standby.length : 0);
        if (standby != null) {
            g.engine().absorb(standby);
        }
        // the old side hashed over its own sockets during the exchange (away from the standby ones, now gone)
        g.engine().steering().afterTakeOver();
        return g;
    }

    /** Whether any interface has an IPv6 address (a file of procfs, so its size reads 0: read it). */
    private static boolean ipv6Configured() {
        try {
            return !java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/if_inet6")).isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
