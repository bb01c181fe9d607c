package dev.reuseport.bpf;

import dev.reuseport.sys.Errno;
import dev.reuseport.sys.NativeException;
import dev.reuseport.sys.internal.LibBpf;
import dev.reuseport.sys.internal.SockAddr;
import dev.reuseport.sys.internal.Sys;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Capability probes: each feature is decided by really doing the thing once. Conclusive results (ON,
 * OFF) are cached for the life of the JVM; INCONCLUSIVE ones are probed again next time.
 */
public final class Probes {
    /** Feature name of SO_REUSEPORT itself. */
    public static final String SO_REUSEPORT = "SO_REUSEPORT";
    /** Feature name: the system's libbpf could be loaded. */
    public static final String LIBBPF = "libbpf";
    /** Feature name: this process may load BPF programs (CAP_BPF or CAP_SYS_ADMIN). */
    public static final String PRIVILEGE = "BPF privilege";
    /** Feature name: BPF_PROG_TYPE_SK_REUSEPORT. */
    public static final String PROGRAM = "sk_reuseport program";
    /** Feature name: BPF_MAP_TYPE_REUSEPORT_SOCKARRAY. */
    public static final String SOCKARRAY = "REUSEPORT_SOCKARRAY";
    /** Feature name: the library's steering program passes the verifier and attaches. */
    public static final String STEERING = "steering program";
    /** Feature name: BPF_SK_REUSEPORT_SELECT_OR_MIGRATE. */
    public static final String MIGRATE = "SELECT_OR_MIGRATE";
    /** Feature name: SO_DETACH_REUSEPORT_BPF. */
    public static final String DETACH = "SO_DETACH_REUSEPORT_BPF";
    /** Feature name: the steering program's QUIC dissector steers a cookie-bearing datagram to its slot. */
    public static final String QUIC_DISSECTOR = "QUIC dissector";
    /** The switch that turns every BPF feature off: {@code -Dreuseport.bpf=false}. */
    public static final String BPF_SWITCH = "reuseport.bpf";

    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_BPF = 39;
    private static final Map<String, Feature> CACHE = new ConcurrentHashMap<>();

    private Probes() {
    }

    private interface Probe {
        Feature run();
    }

    private static Feature cached(String name, Probe probe) {
        Feature f = CACHE.get(name);
        if (f != null) {
            return f;
        }
        f = probe.run();
        if (f.state() != Feature.State.INCONCLUSIVE) {
            CACHE.put(name, f);
        }
        return f;
    }

    /**
     * Probes SO_REUSEPORT (Linux 3.9) by setting it on a throwaway UDP socket.
     *
     * @return ON when setsockopt accepted it; OFF on ENOPROTOOPT; INCONCLUSIVE when no socket could be made
     *         or another errno came back
     */
    public static Feature soReuseport() {
        return cached(SO_REUSEPORT, Probes::probeSoReuseport);
    }

    /**
     * Probes every feature steering needs, in dependency order: libbpf, the privilege to load programs
     * (CAP_BPF or CAP_SYS_ADMIN in the effective set, read from {@code /proc/self/status} on every call),
     * the sk_reuseport program type and REUSEPORT_SOCKARRAY map type (4.19), the library's own program
     * loaded and attached to a throwaway group (5.12), its select-or-migrate variant (5.14) and
     * SO_DETACH_REUSEPORT_BPF (5.3). A feature whose prerequisite is not on is reported OFF (or
     * INCONCLUSIVE, when the privilege is what is missing) naming that prerequisite, without being probed.
     * With {@code -Dreuseport.bpf=false} every feature is OFF and nothing is probed.
     *
     * @return one outcome per feature, in the order above
     */
    public static List<Feature> steering() {
        List<Feature> out = new ArrayList<>();
        if ("false".equalsIgnoreCase(System.getProperty(BPF_SWITCH, "true"))) {
            String why = "turned off by -D" + BPF_SWITCH + "=false";
            out.add(Feature.off(LIBBPF, why, "-"));
            out.add(Feature.off(PRIVILEGE, why, "-"));
            out.add(Feature.off(PROGRAM, why, "4.19"));
            out.add(Feature.off(SOCKARRAY, why, "4.19"));
            out.add(Feature.off(STEERING, why, "5.12"));
            out.add(Feature.off(MIGRATE, why, "5.14"));
            out.add(Feature.off(DETACH, why, "5.3"));
            return out;
        }
        Feature lib = cached(LIBBPF, Probes::probeLibbpf);
        out.add(lib);
        Feature priv = probePrivilege(); // never cached: capabilities can be dropped at run time
        out.add(priv);
        if (!lib.isOn() || !priv.isOn()) {
            String why = !lib.isOn() ? "needs libbpf (" + lib.detail() + ")" : "needs " + PRIVILEGE + " (" + priv.detail() + ")";
            Feature.State st = !lib.isOn() ? Feature.State.OFF : Feature.State.INCONCLUSIVE;
            out.add(new Feature(PROGRAM, st, why, "4.19"));
            out.add(new Feature(SOCKARRAY, st, why, "4.19"));
            out.add(new Feature(STEERING, st, why, "5.12"));
            out.add(new Feature(MIGRATE, st, why, "5.14"));
            out.add(new Feature(DETACH, st, why, "5.3"));
            return out;
        }
        Feature prog = cached(PROGRAM, () -> libbpfProbe(PROGRAM, LibBpf.probeProgType(LibBpf.PROG_TYPE_SK_REUSEPORT),
                "libbpf_probe_bpf_prog_type(SK_REUSEPORT)", "4.19"));
        Feature arr = cached(SOCKARRAY, () -> libbpfProbe(SOCKARRAY,
                LibBpf.probeMapType(LibBpf.MAP_TYPE_REUSEPORT_SOCKARRAY),
                "libbpf_probe_bpf_map_type(REUSEPORT_SOCKARRAY)", "4.19"));
        out.add(prog);
        out.add(arr);
        if (!prog.isOn() || !arr.isOn()) {
            String why = "needs " + (!prog.isOn() ? PROGRAM : SOCKARRAY);
            out.add(Feature.off(STEERING, why, "5.12"));
            out.add(Feature.off(MIGRATE, why, "5.14"));
            out.add(Feature.off(DETACH, why, "5.3"));
            return out;
        }
        out.add(cached(STEERING, () -> loadProbe(false)));
        out.add(cached(MIGRATE, () -> loadProbe(true)));
        out.add(cached(DETACH, Probes::probeDetach));
        return out;
    }

    /**
     * Whether a group can be steered: every feature the steering program needs is on. Migration and
     * detach only add to it and are not needed.
     *
     * @param features the outcomes of {@link #steering()}
     * @return true when every feature but {@link #MIGRATE} and {@link #DETACH} is on
     */
    public static boolean steeringAvailable(List<Feature> features) {
        for (Feature f : features) {
            if (!f.isOn() && !f.name().equals(MIGRATE) && !f.name().equals(DETACH)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Why a group cannot be steered.
     *
     * @param features the outcomes of {@link #steering()}
     * @return the first feature steering needs that is not on (never {@link #MIGRATE} or {@link #DETACH}),
     *         or null when steering is available
     */
    public static Feature firstMissing(List<Feature> features) {
        for (Feature f : features) {
            if (!f.isOn() && !f.name().equals(MIGRATE) && !f.name().equals(DETACH)) {
                return f;
            }
        }
        return null;
    }

    /**
     * Probes the QUIC dissector by doing it once: loads the steering program, sets up generation 0 over a
     * throwaway UDP group of two sockets on 127.0.0.1, sends one short-header datagram whose connection id
     * carries the cookie of worker 1 ({@link QuicCid}), and checks that socket 1 received it and that the
     * dissector counted a cookie. It needs what {@link #steering()} needs (the program reads the datagram
     * with {@code bpf_skb_load_bytes}, Linux 4.19; the library's program needs 5.12). A conclusive result is
     * cached; with {@code -Dreuseport.bpf=false} it is OFF without probing.
     *
     * @return ON when the datagram reached the cookie's socket; OFF (with what happened) when it did not
     *         or the program is refused; INCONCLUSIVE without the privilege
     */
    public static Feature quicDissector() {
        if ("false".equalsIgnoreCase(System.getProperty(BPF_SWITCH, "true"))) {
            return Feature.off(QUIC_DISSECTOR, "turned off by -D" + BPF_SWITCH + "=false", "5.12");
        }
        List<Feature> base = steering();
        Feature missing = firstMissing(base);
        if (missing != null) {
            return new Feature(QUIC_DISSECTOR, missing.state() == Feature.State.INCONCLUSIVE
                    ? Feature.State.INCONCLUSIVE : Feature.State.OFF, "needs " + missing.name() + " ("
                    + missing.detail() + ")", "5.12");
        }
        return cached(QUIC_DISSECTOR, Probes::probeQuicDissector);
    }

    private static Feature probeQuicDissector() {
        String since = "5.12";
        int[] fds = {-1, -1};
        try (SteerProgram p = SteerProgram.loadForInspection(false, true)) {
            InetAddress lo = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
            int port = 0;
            for (int i = 0; i < 2; i++) {
                fds[i] = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM | Sys.SOCK_NONBLOCK, 0);
                Sys.setInt(fds[i], Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
                Sys.bind(fds[i], new InetSocketAddress(lo, port), SockAddr.AF_INET);
                port = Sys.localAddress(fds[0]).getPort();
                p.slots().set(i, fds[i]);
            }
            p.attach(fds[0]);
            p.publish(SteerProgram.Mode.HASH, new int[] {0}, false, 1);
            int key = 0x51c0ffee;
            p.setGeneration(0, 0, 2, key);
            p.setDissector(Dissector.quic(QuicCid.MIN_LENGTH));
            byte[] cid = QuicCid.encode(QuicCid.MIN_LENGTH, 0, 0, 1, key, new byte[QuicCid.MIN_LENGTH]);
            java.nio.ByteBuffer pkt = java.nio.ByteBuffer.allocateDirect(1 + cid.length + 16);
            pkt.put((byte) 0x40).put(cid).position(pkt.limit()).flip();
            Sys.send(fds[0], pkt, new InetSocketAddress(lo, port), SockAddr.AF_INET, 0);
            java.nio.ByteBuffer rx = java.nio.ByteBuffer.allocateDirect(64);
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (System.nanoTime() < deadline) {
                for (int i = 0; i < 2; i++) {
                    rx.clear();
                    if (Sys.receive(fds[i], rx, Sys.MSG_DONTWAIT) != null) {
                        SteerProgram.DissectorCounters c = p.dissectorCounters(Dissector.Kind.QUIC);
                        return i == 1 && c.cookie() == 1
                                ? Feature.on(QUIC_DISSECTOR, "a cookie-bearing short-header datagram reached its slot",
                                        since)
                                : Feature.off(QUIC_DISSECTOR, "a datagram for slot 1 reached slot " + i
                                        + " (counters " + c + ")", since);
                    }
                }
                Thread.sleep(1);
            }
            return Feature.off(QUIC_DISSECTOR, "the probe datagram did not arrive in 2 s", since);
        } catch (NativeException e) {
            if (e.is(Errno.EPERM) || e.is(Errno.EACCES) && !(e instanceof BpfLoadException)) {
                return Feature.inconclusive(QUIC_DISSECTOR, e.getMessage(), since);
            }
            return Feature.off(QUIC_DISSECTOR, e.getMessage(), since);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Feature.inconclusive(QUIC_DISSECTOR, "interrupted", since);
        } catch (IOException | RuntimeException e) {
            return Feature.off(QUIC_DISSECTOR, e.toString(), since);
        } finally {
            closeQuietly(fds[0]);
            closeQuietly(fds[1]);
        }
    }

    private static Feature probeLibbpf() {
        String why = LibBpf.unavailableReason();
        if (why != null) {
            return Feature.off(LIBBPF, why, "-");
        }
        return Feature.on(LIBBPF, "libbpf " + LibBpf.version() + " from "
                + System.getProperty(LibBpf.PATH_PROPERTY, "libbpf.so.1"), "-");
    }

    /** CAP_BPF or CAP_SYS_ADMIN in the effective set (from /proc/self/status). */
    static Feature probePrivilege() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    BigInteger caps = new BigInteger(line.substring(7).trim(), 16);
                    if (caps.testBit(CAP_BPF)) {
                        return Feature.on(PRIVILEGE, "CAP_BPF in the effective set", "-");
                    }
                    if (caps.testBit(CAP_SYS_ADMIN)) {
                        return Feature.on(PRIVILEGE, "CAP_SYS_ADMIN in the effective set", "-");
                    }
                    return Feature.inconclusive(PRIVILEGE, "neither CAP_BPF nor CAP_SYS_ADMIN in the effective set "
                            + "(CapEff " + line.substring(7).trim() + "); run as root or grant CAP_BPF", "-");
                }
            }
            return Feature.inconclusive(PRIVILEGE, "no CapEff line in /proc/self/status", "-");
        } catch (IOException | NumberFormatException e) {
            return Feature.inconclusive(PRIVILEGE, "cannot read /proc/self/status: " + e, "-");
        }
    }

    private static Feature libbpfProbe(String name, int result, String call, String since) {
        if (result == 1) {
            return Feature.on(name, call + " = 1", since);
        }
        if (result == 0) {
            return Feature.off(name, call + " = 0: the kernel refused it", since);
        }
        return -result == Errno.EPERM || -result == Errno.EACCES
                ? Feature.inconclusive(name, call + ": " + Errno.name(-result), since)
                : Feature.off(name, call + ": " + Errno.name(-result) + " (" + -result + ")", since);
    }

    /** Loads the library's own program (select, or select-or-migrate) and attaches it to a throwaway group. */
    private static Feature loadProbe(boolean migrate) {
        String name = migrate ? MIGRATE : STEERING;
        String since = migrate ? "5.14" : "5.12";
        int fd = -1;
        try (SteerProgram p = SteerProgram.loadForInspection(migrate, true)) {
            BpfProgram.Info info = p.program().info();
            // TCP, so that the migrate variant is attached where it matters: a listening member
            fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_STREAM, 0);
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            Sys.bind(fd, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), SockAddr.AF_INET);
            Sys.listen(fd, 1);
            p.attach(fd);
            return Feature.on(name, "loaded and attached " + p.program().name() + " (id " + info.id() + ", tag "
                    + info.tag() + ")", since);
        } catch (NativeException e) {
            if (e.is(Errno.EPERM) || e.is(Errno.EACCES) && !(e instanceof BpfLoadException)) {
                return Feature.inconclusive(name, e.getMessage(), since);
            }
            return Feature.off(name, e.getMessage(), since);
        } catch (IOException | RuntimeException e) {
            return Feature.off(name, e.toString(), since);
        } finally {
            closeQuietly(fd);
        }
    }

    private static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                Sys.close(fd);
            } catch (NativeException ignored) {
                // a throwaway probe socket: nothing to recover
            }
        }
    }

    /** Attach then detach twice on a throwaway UDP group: ON when the first detach works and the second says ENOENT. */
    private static Feature probeDetach() {
        int fd = -1;
        try (SteerProgram p = SteerProgram.loadForInspection(false, true)) {
            fd = Sys.socket(SockAddr.AF_INET, Sys.SOCK_DGRAM, 0);
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            Sys.bind(fd, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), SockAddr.AF_INET);
            p.attach(fd);
            SteerProgram.detach(fd);
            try {
                SteerProgram.detach(fd);
                return Feature.off(DETACH, "a second detach succeeded; expected ENOENT", "5.3");
            } catch (NativeException e) {
                return e.is(Errno.ENOENT) ? Feature.on(DETACH, "detach works once, then ENOENT", "5.3")
                        : Feature.off(DETACH, e.getMessage(), "5.3");
            }
        } catch (NativeException e) {
            if (e.is(Errno.EPERM)) {
                return Feature.inconclusive(DETACH, e.getMessage(), "5.3");
            }
            return Feature.off(DETACH, e.getMessage(), "5.3");
        } catch (IOException | RuntimeException e) {
            return Feature.off(DETACH, e.toString(), "5.3");
        } finally {
            closeQuietly(fd);
        }
    }

    private static Feature probeSoReuseport() {
        int fd;
        try {
            fd = Sys.socket(2, Sys.SOCK_DGRAM, 0);
        } catch (NativeException e) {
            return Feature.inconclusive(SO_REUSEPORT, "cannot make a probe socket: " + e.getMessage(), "3.9");
        }
        try {
            Sys.setInt(fd, Sys.SOL_SOCKET, Sys.SO_REUSEPORT, 1);
            return Feature.on(SO_REUSEPORT, "setsockopt accepted", "3.9");
        } catch (NativeException e) {
            return e.is(Errno.ENOPROTOOPT)
                    ? Feature.off(SO_REUSEPORT, e.getMessage(), "3.9")
                    : Feature.inconclusive(SO_REUSEPORT, e.getMessage(), "3.9");
        } finally {
            try {
                Sys.close(fd);
            } catch (NativeException ignored) {
                // a probe socket that fails to close leaks nothing we could recover
            }
        }
    }

    // --- recvmmsg/sendmmsg/GRO/GSO: ingest ---

    /** Feature name: UDP GRO on a socket (UDP_GRO, Linux 5.0). */
    public static final String UDP_GRO = "UDP_GRO";
    /** Feature name: UDP GSO sends (UDP_SEGMENT, Linux 4.18). */
    public static final String UDP_SEGMENT = "UDP_SEGMENT";
    /** Feature name: SO_PREFER_BUSY_POLL (Linux 5.11). */
    public static final String PREFER_BUSY_POLL = "SO_PREFER_BUSY_POLL";

    /**
     * Probes the ingest features by setting each on a throwaway UDP socket: UDP_GRO (5.0), UDP_SEGMENT
     * (4.18) and SO_PREFER_BUSY_POLL (5.11, set to 0, which needs no privilege). ON when setsockopt
     * accepted it; OFF with ENOPROTOOPT (or EINVAL: an option the kernel does not know); INCONCLUSIVE when
     * no socket could be made or another errno came back (not cached).
     *
     * @return one outcome per feature, in the order above
     */
    public static List<Feature> ingest() {
        List<Feature> out = new ArrayList<>();
        out.add(cached(UDP_GRO, () -> probeOption(UDP_GRO, Sys.SOL_UDP, Sys.UDP_GRO, 1, "5.0")));
        out.add(cached(UDP_SEGMENT, () -> probeOption(UDP_SEGMENT, Sys.SOL_UDP, Sys.UDP_SEGMENT, 1200, "4.18")));
        out.add(cached(PREFER_BUSY_POLL,
                () -> probeOption(PREFER_BUSY_POLL, Sys.SOL_SOCKET, Sys.SO_PREFER_BUSY_POLL, 0, "5.11")));
        return out;
    }

    private static Feature probeOption(String name, int level, int option, int value, String since) {
        int fd;
        try {
            fd = Sys.socket(2, Sys.SOCK_DGRAM, 0);
        } catch (NativeException e) {
            return Feature.inconclusive(name, "cannot make a probe socket: " + e.getMessage(), since);
        }
        try {
            Sys.setInt(fd, level, option, value);
            return Feature.on(name, "setsockopt accepted", since);
        } catch (NativeException e) {
            return e.is(Errno.ENOPROTOOPT) || e.is(Errno.EINVAL)
                    ? Feature.off(name, e.getMessage(), since)
                    : Feature.inconclusive(name, e.getMessage(), since);
        } finally {
            try {
                Sys.close(fd);
            } catch (NativeException ignored) {
                // a probe socket that cannot close changes no outcome
            }
        }
    }

    // --- end ingest ---
}
