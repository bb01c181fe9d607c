package dev.reuseport;

import dev.reuseport.bpf.Feature;
import dev.reuseport.bpf.Probes;
import dev.reuseport.bpf.SteerProgram;
import dev.reuseport.handoff.Handoff;
import dev.reuseport.handoff.HandoffFailure;
import dev.reuseport.internal.member.GroupSpec;
import dev.reuseport.internal.member.MemberSockets;
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
                b.ingest.busyPollMicros(), b.ingest.preferBusyPoll(), b.ingest.flowCapacity());
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
                    group.policy(b.policy);
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
    static ReuseportGroup adopt(Handoff.Layout l) throws IOException {
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
            program = SteerProgram.adopt(l.fds()[n], l.program(), Arrays.copyOfRange(l.fds(), n + 1,
                    l.fds().length));
        }
        Protocol protocol = Protocol.valueOf(l.protocol());
        GroupSpec spec = new GroupSpec(protocol == Protocol.TCP, SockAddr.family(address),
                new InetSocketAddress(address, l.port()), l.backlog(), l.receiveBuffer());
        Capabilities caps = probe("kernel hash", "taken over by hand-off");
        if (protocol == Protocol.UDP) {
            caps = caps.withFeature(Probes.quicDissector());
        }
        ReuseportGroup g = new ReuseportGroup(protocol, spec, l.slots(), sockets, caps);
        g.engine().steering().adopted(program, Policy.parse(l.policy()), l.tableVersion());
        return g;
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
        int[] standby = fallback != null && fallback.port != 0 ? openMembers(fallback) : null;
        ReuseportGroup g;
        try {
            g = handoff.receive(control, GroupOpening::adopt);
        } catch (IOException e) {
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
